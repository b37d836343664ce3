"""Mach-O headers (32 and 64 bit, either byte order): sections and entry point.

Strategy: walk the load commands once.  Sections come from the segment
commands (LC_SEGMENT, LC_SEGMENT_64), each with its file offset and size.
The entry point is LC_MAIN's file offset, or the program counter of an
LC_THREAD/LC_UNIXTHREAD for x86, x86-64, ARM and ARM64, turned into a file
offset through the section that holds it.  Load commands that run past
their declared area or the file make the file broken.  Universal (fat)
binaries are containers whose members are Mach-O files; they have no
layout of their own.
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

__all__ = ["parse_macho"]

_MAGICS = {
    b"\xce\xfa\xed\xfe": ("<", False),
    b"\xcf\xfa\xed\xfe": ("<", True),
    b"\xfe\xed\xfa\xce": (">", False),
    b"\xfe\xed\xfa\xcf": (">", True),
}
_LC_SEGMENT = 0x1
_LC_SEGMENT_64 = 0x19
_LC_THREAD = 0x4
_LC_UNIXTHREAD = 0x5
_LC_MAIN = 0x80000028
# Per CPU type: where the program counter lies in a thread command, after
# its flavor and count words, and how wide it is.
_CPU_X86, _CPU_X86_64, _CPU_ARM, _CPU_ARM64 = 7, 0x01000007, 12, 0x0100000C
_PROGRAM_COUNTER = {
    _CPU_X86: (10 * 4, "I"),
    _CPU_X86_64: (16 * 8, "Q"),
    _CPU_ARM: (15 * 4, "I"),
    _CPU_ARM64: (32 * 8, "Q"),
}


def parse_macho(data: bytes) -> ExecutableLayout | Broken:
    size = len(data)
    known = _MAGICS.get(bytes(data[:4]))
    if known is None or size < 28:
        return NOT_EXECUTABLE
    order, wide = known
    cpu, _, _, command_count, commands_size = struct.unpack_from(order + "iiiII", data, 4)
    position = 32 if wide else 28
    end = position + commands_size
    if end > size:
        return MALFORMED
    segment_format = order + ("16xQQQQ8xI4x" if wide else "16xIIII8xI4x")
    section_format = order + ("16s16xQQI" if wide else "16s16xIII")
    section_size = 80 if wide else 68
    sections: list[Section] = []
    entry_point = None
    program_counter = None
    for _ in range(command_count):
        if position + 8 > end:
            return MALFORMED
        command, length = struct.unpack_from(order + "II", data, position)
        if length < 8 or position + length > end:
            return MALFORMED
        if command in (_LC_SEGMENT, _LC_SEGMENT_64):
            count = struct.unpack_from(segment_format, data, position + 8)[-1]
            first = position + 8 + struct.calcsize(segment_format)
            if first + count * section_size > position + length:
                return MALFORMED
            for index in range(count):
                name, address, section_length, offset = struct.unpack_from(
                    section_format, data, first + index * section_size
                )
                sections.append(
                    Section(name.rstrip(b"\0"), address, section_length, offset, section_length)
                )
        elif command == _LC_MAIN and length >= 24:
            (entry_point,) = struct.unpack_from(order + "Q", data, position + 8)
        elif command in (_LC_THREAD, _LC_UNIXTHREAD) and cpu in _PROGRAM_COUNTER:
            at, width = _PROGRAM_COUNTER[cpu]
            if 16 + at + struct.calcsize(width) > length:
                return MALFORMED
            (program_counter,) = struct.unpack_from(order + width, data, position + 16 + at)
        position += length
    if entry_point is None and program_counter is not None:
        entry_point = next(
            (
                program_counter - section.virtual_address + section.raw_offset
                for section in sections
                if 0 <= program_counter - section.virtual_address < section.raw_size
            ),
            None,
        )
        if entry_point is None:
            return MALFORMED
    return ExecutableLayout(ExecutableKind.MACHO, entry_point, tuple(sections))
