"""clamkit: a ClamAV-compatible scanning engine, daemon and clients in Python."""

__version__ = "0.1.0"

# The functionality level clamkit's engine declares, as ClamAV 1.4 does
# (signatures whose FLEVEL range excludes it are skipped, not errors).
FUNCTIONALITY_LEVEL = 216
