"""ELF headers (32 and 64 bit, either byte order): sections and entry point.

Strategy: read the file header, then the section header table (each
section's file offset and size, as Sx/SEx/SL offsets use them) and the
program headers, through which the entry point's virtual address becomes a
file offset (the segment whose file image holds it).  In a file without
program headers (an object file) the entry point field is taken as the
offset, as the reference does; a file whose entry point lies in no
segment's file image, or whose tables run past the end of the file, is
broken.
"""

from __future__ import annotations

import struct

from clamkit.executables.layout import (
    MALFORMED,
    NOT_EXECUTABLE,
    Broken,
    ExecutableKind,
    ExecutableLayout,
    Section,
)

__all__ = ["parse_elf"]

# Per class (1: 32 bit, 2: 64 bit): the header fields from e_entry to
# e_shstrndx, a program header's (offset, vaddr, filesz) and a section
# header's (offset, size) with their positions, and the entry sizes.
_HEADER = {1: "IIIIHHHHHH", 2: "QQQIHHHHHH"}
_PROGRAM = {1: ("4xII4xI12x", 32), 2: ("8xQQ8xQ8x8x", 56)}
_SECTION = {1: ("16xII16x", 40), 2: ("24xQQ24x", 64)}
_ORDER = {1: "<", 2: ">"}


def parse_elf(data: bytes) -> ExecutableLayout | Broken:
    size = len(data)
    if size < 52 or data[:4] != b"\x7fELF":
        return NOT_EXECUTABLE
    elf_class, order_mark = data[4], data[5]
    if elf_class not in _HEADER or order_mark not in _ORDER:
        return MALFORMED
    order = _ORDER[order_mark]
    header = struct.Struct(order + _HEADER[elf_class])
    if 24 + header.size > size:
        return MALFORMED
    entry, ph_offset, sh_offset, _, _, ph_size, ph_count, sh_size, sh_count, _ = header.unpack_from(
        data, 24
    )
    program_format, program_size = _PROGRAM[elf_class]
    section_format, section_size = _SECTION[elf_class]
    if ph_count and (ph_size != program_size or ph_offset + ph_count * ph_size > size):
        return MALFORMED
    if sh_count and (sh_size != section_size or sh_offset + sh_count * sh_size > size):
        return MALFORMED
    sections = tuple(
        Section(b"", 0, 0, offset, length)
        for offset, length in struct.iter_unpack(
            order + section_format, data[sh_offset : sh_offset + sh_count * sh_size]
        )
    )
    # Without program headers (an object file) the entry point is taken as is.
    entry_point = entry
    if ph_count:
        entry_point = None
        for offset, virtual, length in struct.iter_unpack(
            order + program_format, data[ph_offset : ph_offset + ph_count * ph_size]
        ):
            if virtual <= entry < virtual + length:
                entry_point = entry - virtual + offset
                break
        if entry_point is None or entry_point >= size:
            return MALFORMED
    return ExecutableLayout(ExecutableKind.ELF, entry_point, sections)
