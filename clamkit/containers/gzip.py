"""gzip files (RFC 1952); concatenated members decoded one after the other.

Strategy: ``streams.StreamFormat`` with the standard library's decoder,
output bounded by the member budget.
"""

from clamkit.containers import streams
from clamkit.engine.filetypes import FileType

__all__ = ["FORMAT"]

FORMAT = streams.StreamFormat(
    "gzip", FileType.CL_TYPE_GZ, streams.gzip_stream, b"\x1f\x8b", concatenated=True
)
