"""From a clamd.conf ``Config`` to the engine's ``ScanOptions``, as clamd 1.4 sets up its engine.

Strategy: one table pairs each ScanOptions field with the option that sets
it; the few places where clamd does more than copy a value are spelled out
after it: deprecated spellings that still take effect (only when set to the
opposite of their default), AlertEncrypted covering both its narrower
options, the file size cap of the scanning library, and MaxRecursion 0
meaning "the default".
"""

from __future__ import annotations

from clamkit.config.options import BY_NAME, OPTIONS
from clamkit.config.parser import Config
from clamkit.engine.options import DEFAULT_OPTIONS, ScanOptions

# The scanning library never scans a single file larger than this, whatever
# MaxFileSize says (clamd logs this value for MaxFileSize 0 or 3G).
LARGEST_SCANNABLE_FILE = 2_147_483_645

FIELD_OPTIONS: tuple[tuple[str, str], ...] = (
    ("max_scansize", "MaxScanSize"),
    ("max_files", "MaxFiles"),
    ("max_scantime_ms", "MaxScanTime"),
    ("max_embeddedpe", "MaxEmbeddedPE"),
    ("max_htmlnormalize", "MaxHTMLNormalize"),
    ("max_htmlnotags", "MaxHTMLNoTags"),
    ("max_scriptnormalize", "MaxScriptNormalize"),
    ("max_partitions", "MaxPartitions"),
    ("pcre_max_filesize", "PCREMaxFileSize"),
    ("scan_archive", "ScanArchive"),
    ("scan_pe", "ScanPE"),
    ("scan_elf", "ScanELF"),
    ("scan_ole2", "ScanOLE2"),
    ("scan_pdf", "ScanPDF"),
    ("scan_swf", "ScanSWF"),
    ("scan_xmldocs", "ScanXMLDOCS"),
    ("scan_hwp3", "ScanHWP3"),
    ("scan_onenote", "ScanOneNote"),
    ("scan_html", "ScanHTML"),
    ("scan_mail", "ScanMail"),
    ("heuristic_alerts", "HeuristicAlerts"),
    ("heuristic_scan_precedence", "HeuristicScanPrecedence"),
    ("alert_exceeds_max", "AlertExceedsMax"),
    ("alert_broken_executables", "AlertBrokenExecutables"),
    ("alert_encrypted", "AlertEncrypted"),
    ("alert_ole2_macros", "AlertOLE2Macros"),
    ("alert_partition_intersection", "AlertPartitionIntersection"),
)

# What clamd logs when a deprecated spelling takes effect; the other
# honoured spellings take effect silently.
_ALIAS_WARNINGS = {
    "ArchiveBlockEncrypted": 'Using deprecated option "ArchiveBlockEncrypted" to alert on '
    "encrypted archives _and_ documents. Please update your configuration to use "
    'replacement options "AlertEncrypted", or "AlertEncryptedArchive" and/or '
    '"AlertEncryptedDoc".',
    "BlockMax": 'Using deprecated option "BlockMax" to enable heuristic alerts when scans '
    "exceed set maximums. Please update your configuration to use replacement option "
    '"AlertExceedsMax".',
    "AlgorithmicDetection": 'Using deprecated option "AlgorithmicDetection" to disable '
    "heuristic alerts. Please update your configuration to use replacement option "
    '"HeuristicAlerts".',
}


def _in_effect_aliases(config: Config) -> list[str]:
    """Deprecated spellings set to the opposite of their default."""
    return [
        option.name
        for option in OPTIONS
        if option.alias_of and config[option.name] != option.default
    ]


def _effective(config: Config, name: str) -> object:
    for alias in _in_effect_aliases(config):
        if BY_NAME[alias].alias_of == name:
            return config[alias]
    return config[name]


def scan_options(config: Config, *, allmatch: bool = False) -> ScanOptions:
    values = {field: _effective(config, name) for field, name in FIELD_OPTIONS}
    encrypted = bool(values["alert_encrypted"])
    recursion = config.number("MaxRecursion")
    return ScanOptions(
        allmatch=allmatch,
        max_filesize=min(config.number("MaxFileSize"), LARGEST_SCANNABLE_FILE),
        max_recursion=recursion or DEFAULT_OPTIONS.max_recursion,
        alert_encrypted_archive=encrypted or config.flag("AlertEncryptedArchive"),
        alert_encrypted_doc=encrypted or config.flag("AlertEncryptedDoc"),
        **values,  # type: ignore[arg-type]
    )


def deprecated_alias_warnings(config: Config) -> list[str]:
    """The warnings clamd logs at start-up for deprecated spellings that take effect."""
    in_effect = _in_effect_aliases(config)
    return [_ALIAS_WARNINGS[name] for name in _ALIAS_WARNINGS if name in in_effect]
