"""Mach-O headers (32 and 64 bit, either byte order): sections and entry point.

Strategy: walk the load commands once; sections come from the segment
commands (LC_SEGMENT, LC_SEGMENT_64), each with its file offset and size.
Load commands that run past their declared area or the file leave no
layout, but the reference neither reports such a file as broken nor drops
its EOF-n offsets, so the refusal is ``NOT_EXECUTABLE``.  The entry point
is file offset 0: that is where the reference put it for every file probed
(an LC_MAIN command, an LC_UNIXTHREAD for i386 or x86-64, none at all), as
EP+0 signatures and EntryPoint conditions showed.  Universal (fat)
binaries are containers whose members are Mach-O files; they have no
layout of their own.
"""

from __future__ import annotations

import struct

from clamkit.executables.layout import (
    NOT_EXECUTABLE,
    Broken,
    ExecutableKind,
    ExecutableLayout,
    Section,
)

__all__ = ["parse_macho"]

_MAGICS = {
    b"\xce\xfa\xed\xfe": ("<", False),
    b"\xcf\xfa\xed\xfe": ("<", True),
    b"\xfe\xed\xfa\xce": (">", False),
    b"\xfe\xed\xfa\xcf": (">", True),
}
_LC_SEGMENT = 0x1
_LC_SEGMENT_64 = 0x19


def parse_macho(data: bytes) -> ExecutableLayout | Broken:
    size = len(data)
    known = _MAGICS.get(bytes(data[:4]))
    if known is None or size < 28:
        return NOT_EXECUTABLE
    order, wide = known
    command_count, commands_size = struct.unpack_from(order + "II", data, 16)
    position = 32 if wide else 28
    end = position + commands_size
    if end > size:
        return NOT_EXECUTABLE
    segment_format = order + ("16xQQQQ8xI4x" if wide else "16xIIII8xI4x")
    section_format = order + ("16s16xQQI" if wide else "16s16xIII")
    section_size = 80 if wide else 68
    sections: list[Section] = []
    for _ in range(command_count):
        if position + 8 > end:
            return NOT_EXECUTABLE
        command, length = struct.unpack_from(order + "II", data, position)
        if length < 8 or position + length > end:
            return NOT_EXECUTABLE
        if command in (_LC_SEGMENT, _LC_SEGMENT_64):
            count = struct.unpack_from(segment_format, data, position + 8)[-1]
            first = position + 8 + struct.calcsize(segment_format)
            if first + count * section_size > position + length:
                return NOT_EXECUTABLE
            for index in range(count):
                name, address, section_length, offset = struct.unpack_from(
                    section_format, data, first + index * section_size
                )
                sections.append(
                    Section(name.rstrip(b"\0"), address, section_length, offset, section_length)
                )
        position += length
    return ExecutableLayout(ExecutableKind.MACHO, 0, tuple(sections))
