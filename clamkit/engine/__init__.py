"""The scanning engine: compile a loaded database once, then scan with it.

Public API: ``compile_engine(database) -> Engine``; ``Engine.scan_file``,
``Engine.scan_bytes`` and ``Engine.scan_fileobj`` return a ``ScanResult``.
"""

from clamkit.engine.compiler import Engine, compile_engine
from clamkit.engine.options import ScanOptions, ScanResult

__all__ = ["Engine", "ScanOptions", "ScanResult", "compile_engine"]
