"""The scanning engine: compile a loaded database once, then scan with it.

Public API: ``compile_engine(database) -> Engine``; ``Engine.scan_file``,
``Engine.scan_bytes`` and ``Engine.scan_fileobj`` return a ``ScanResult``.

The names are resolved on first use: a process that only needs the scan
options (clamd's network process, the clients) must not pay for importing
the matcher and every container reader.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clamkit.engine.compiler import Engine, compile_engine
    from clamkit.engine.options import ScanOptions, ScanResult

__all__ = ["Engine", "ScanOptions", "ScanResult", "compile_engine"]

_HOMES = {
    "Engine": "clamkit.engine.compiler",
    "compile_engine": "clamkit.engine.compiler",
    "ScanOptions": "clamkit.engine.options",
    "ScanResult": "clamkit.engine.options",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
