"""What a scan may do and what it found: ``ScanOptions`` and ``ScanResult``.

Every limit and switch that clamd.conf (and clamscan's options) can set for
one scan lives in ``ScanOptions``, with ClamAV 1.4's defaults, so the engine
never reads configuration itself.  A size or count limit of 0 means "no
limit", as in clamd.conf.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """Per-scan settings.  Field names follow clamd.conf's options in snake case."""

    allmatch: bool = False
    # Size and count limits (clamd.conf Max*).
    max_filesize: int = 100 * MiB
    max_scansize: int = 400 * MiB
    max_recursion: int = 17
    max_files: int = 10_000
    max_scantime_ms: int = 120_000
    max_embeddedpe: int = 40 * MiB
    max_htmlnormalize: int = 40 * MiB
    max_htmlnotags: int = 8 * MiB
    max_scriptnormalize: int = 20 * MiB
    max_partitions: int = 50
    # Layers larger than this are not matched against PCRE subsignatures.
    pcre_max_filesize: int = 100 * MiB
    # Which formats are looked into (clamd.conf Scan*).
    scan_archive: bool = True
    scan_pe: bool = True
    scan_elf: bool = True
    scan_ole2: bool = True
    scan_pdf: bool = True
    scan_swf: bool = True
    scan_xmldocs: bool = True
    scan_hwp3: bool = True
    scan_onenote: bool = True
    scan_html: bool = True
    scan_mail: bool = True
    # Heuristic alerts (clamd.conf Alert*, HeuristicAlerts, DetectPUA).
    heuristic_alerts: bool = True
    heuristic_scan_precedence: bool = False
    alert_exceeds_max: bool = False
    alert_encrypted: bool = False
    alert_encrypted_archive: bool = False
    alert_encrypted_doc: bool = False
    alert_broken_executables: bool = False
    alert_ole2_macros: bool = False
    alert_partition_intersection: bool = False
    # Polled between layers and chunks; True ends the scan early (a client
    # that went away, a daemon shutting down).  The scan then reports what it
    # found so far.
    should_stop: Callable[[], bool] | None = None

    def file_too_large(self, size: int) -> bool:
        return 0 < self.max_filesize < size

    def scan_budget_exceeded(self, scanned: int) -> bool:
        return 0 < self.max_scansize < scanned


DEFAULT_OPTIONS = ScanOptions()


@dataclass(frozen=True, slots=True)
class ScanResult:
    """``names`` empty means clean; the byte counts feed clamscan's summary."""

    names: tuple[str, ...]
    bytes_read: int
    bytes_scanned: int

    @property
    def infected(self) -> bool:
        return bool(self.names)
