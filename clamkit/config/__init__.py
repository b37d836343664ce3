"""clamd.conf: the option table, the parser and the mapping onto scan options.

``OPTIONS`` (options.py) declares every option once; ``load_config`` and
``parse_config`` (parser.py) read a file exactly as clamd 1.4 does;
``scan_options`` (scanning.py) turns a ``Config`` into ``ScanOptions``;
manpage.py renders clamd.conf(5) from the table.
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
from clamkit.config.scanning import deprecated_alias_warnings, scan_options

__all__ = [
    "BY_NAME",
    "OPTIONS",
    "SIZE_UNLIMITED",
    "Config",
    "ConfigError",
    "Option",
    "OptionKind",
    "default_config",
    "deprecated_alias_warnings",
    "load_config",
    "parse_config",
    "scan_options",
    "unacted_warnings",
]
