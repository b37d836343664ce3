"""Executable layouts: where a PE, ELF or Mach-O file's entry point and sections lie.

Public API: ``parse_executable(file_type, data)`` returns an
``ExecutableLayout``, a ``Broken`` marker for an executable whose headers
the reference refuses, or None for a type that is no executable;
``Section``, ``ExecutableKind``.

Strategy: one small hand-written parser per format (``pe``, ``elf``,
``macho``) reads only what signatures need (headers, the section table, the
entry point as a file offset) with ``struct.unpack_from`` straight from the
scanned buffer, so a scan never copies the file.  Import tables are read on
demand (``pe.import_hash_text``), only when .imp signatures are loaded.
``matching`` calls ``parse_executable`` at most once per scanned object, and
only when some signature needs the layout.  Parsers never raise: a truncated
or contradictory header gives a ``Broken`` marker, and the object is then scanned as
plain data, as the reference does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clamkit.executables.elf import parse_elf
from clamkit.executables.layout import Broken, ExecutableKind, ExecutableLayout, Section
from clamkit.executables.macho import parse_macho
from clamkit.executables.pe import parse_pe

if TYPE_CHECKING:
    from clamkit.engine.filetypes import FileType

__all__ = [
    "Broken",
    "ExecutableKind",
    "ExecutableLayout",
    "Section",
    "eof_offsets_resolve",
    "parse_executable",
]


def parse_executable(file_type: FileType, data: bytes) -> ExecutableLayout | Broken | None:
    """The layout of ``data`` if ``file_type`` is an executable type, else None."""
    parser = _PARSERS.get(file_type.name)
    return None if parser is None else parser(data)


def eof_offsets_resolve(file_type: FileType, parsed: ExecutableLayout | Broken | None) -> bool:
    """Whether EOF-n offsets apply to an object whose parse gave ``parsed``.

    The reference places none in a PE or ELF file whose headers it refuses
    (and, for them, no EP or section offset either); a Mach-O file with
    broken load commands keeps them.  Other types always have them.
    """
    return file_type.name == "CL_TYPE_MACHO" or not isinstance(parsed, Broken)


# Keyed by name: the engine package (which defines FileType) imports this one.
_PARSERS = {
    "CL_TYPE_MSEXE": parse_pe,
    "CL_TYPE_ELF": parse_elf,
    "CL_TYPE_MACHO": parse_macho,
}
