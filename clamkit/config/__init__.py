"""clamd.conf: the option table, the parser and the mapping onto scan options.

``OPTIONS`` (options.py) declares every option once; ``load_config`` and
``parse_config`` (parser.py) read a file exactly as clamd 1.4 does.
``clamkit.config.scanning.scan_options`` turns a ``Config`` into the
engine's ``ScanOptions`` (imported from there, so that reading a
configuration does not load the engine); manpage.py renders clamd.conf(5).
"""

from clamkit.config.options import BY_NAME, OPTIONS, Option, OptionKind
from clamkit.config.parser import (
    SIZE_UNLIMITED,
    Config,
    ConfigError,
    default_config,
    load_config,
    parse_config,
    unacted_warnings,
)

__all__ = [
    "BY_NAME",
    "OPTIONS",
    "SIZE_UNLIMITED",
    "Config",
    "ConfigError",
    "Option",
    "OptionKind",
    "default_config",
    "load_config",
    "parse_config",
    "unacted_warnings",
]
