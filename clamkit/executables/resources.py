"""PE resources: the version-information strings that ``VI`` offsets point at.

Public API: ``version_info_keys(data, layout)``, the file offsets where the
keys of the version resource's strings start.  A ``VI`` subsignature
matches only when its match starts at one of them, so it reads
``CompanyName\\0\\0Value`` in UTF-16LE from the key on.

Strategy: a walk over the structures with bounds checked at every step and
nothing kept but the offsets; the walk is done at most once per scanned PE,
and only when VI signatures are loaded.  Which strings count is the
reference's, found by scanning crafted version resources
(``tests/test_versioninfo.py``):

- the resource directory is walked for type 16 among the numbered types
  (the first such entry with a subdirectory only); under it every name,
  numbered or not, and every language entry that is data, up to 16 of them;
- each resource must lie whole inside the file.  Its VS_VERSIONINFO needs
  the key ``VS_VERSION_INFO``, a 0x34-byte value with the fixed-info magic,
  and must not claim more than the resource holds;
- among its children one ``VarFileInfo`` is stepped over; the first other
  child must be ``StringFileInfo`` (the rest are not looked at), whose
  string tables are walked in turn with no check of their keys;
- a string's length is rounded up to 4; a string that overruns its table,
  or is too short for a key and a value, ends the whole walk; a string whose
  key fills it or whose value is empty is passed over.
"""

from __future__ import annotations

import struct

from clamkit.executables.layout import ExecutableLayout
from clamkit.executables.pe import rva_to_offset

__all__ = ["version_info_keys"]

_RT_VERSION = 16
# The reference looks at this many version resources at most.
_MAX_VERSION_RESOURCES = 16
_DATA_ENTRY = struct.Struct("<II")  # RVA, size (code page and reserved follow)

_VERSION_KEY = "VS_VERSION_INFO\0".encode("utf-16le")
_STRING_FILE_INFO = "StringFileInfo\0".encode("utf-16le")
_VAR_FILE_INFO = "VarFileInfo\0".encode("utf-16le")
_FIXED_INFO_MAGIC = 0xFEEF04BD
_FIXED_INFO_SIZE = 0x34
# Header (length, value length, type), key, padding, VS_FIXEDFILEINFO.
_VERSION_HEADER = 6 + len(_VERSION_KEY) + 2 + _FIXED_INFO_SIZE
# A string table's header with its eight-digit language key.
_TABLE_HEADER = 24
# Header, the shortest key with its padding, and a value.
_MIN_STRING = 6 + 2 + 8


def _u16(data: bytes, offset: int) -> int:
    return data[offset] | data[offset + 1] << 8


def _directory_counts(data: bytes, offset: int | None) -> tuple[int, int] | None:
    """(named, numbered) entry counts of the resource directory at ``offset``."""
    if offset is None or offset + 16 > len(data):
        return None
    return struct.unpack_from("<HH", data, offset + 12)


def _entries(data: bytes, first: int, count: int) -> list[tuple[int, int]]:
    """Up to ``count`` (id, offset field) pairs from ``first``, as far as the file holds them."""
    available = max(0, (len(data) - first) // 8)
    return list(struct.iter_unpack("<II", data[first : first + 8 * min(count, available)]))


def _version_resources(data: bytes, layout: ExecutableLayout) -> list[int]:
    """RVAs of the data entries of the version resources (mapped or not: all count)."""
    base = layout.resource_directory
    if base is None:
        return []
    size = len(data)
    root = rva_to_offset(layout, size, base)
    counts = _directory_counts(data, root)
    if root is None or counts is None:
        return []
    named, numbered = counts
    found: list[int] = []
    for type_id, type_field in _entries(data, root + 16 + 8 * named, numbered):
        if type_id != _RT_VERSION or not type_field >> 31:
            continue
        names = rva_to_offset(layout, size, base + (type_field & 0x7FFFFFFF))
        counts = _directory_counts(data, names)
        if names is None or counts is None:
            return found
        # Named and numbered entries alike; the count wraps as a 16-bit sum.
        for _, name_field in _entries(data, names + 16, sum(counts) & 0xFFFF):
            if not name_field >> 31:
                continue
            languages = rva_to_offset(layout, size, base + (name_field & 0x7FFFFFFF))
            counts = _directory_counts(data, languages)
            if languages is None or counts is None:
                return found
            for _, language_field in _entries(data, languages + 16, sum(counts) & 0xFFFF):
                if language_field >> 31:
                    continue
                found.append((base + language_field) & 0xFFFFFFFF)
                if len(found) == _MAX_VERSION_RESOURCES:
                    return found
        return found
    return found


def _string_keys(data: bytes, start: int, end: int, keys: set[int]) -> bool:
    """Add the keys of the strings of one table; False when the walk must end."""
    position = start
    while end - position > 6:
        length = (_u16(data, position) + 3) & ~3
        if length > end - position or length <= _MIN_STRING:
            return False
        key_end = position + 6
        while key_end + 1 < position + length:
            key_end += 2
            if data[key_end - 2] == 0 and data[key_end - 1] == 0:
                break
        value_start = position + ((key_end - position + 3) & ~3)
        # Strings whose key fills them or whose value is empty are passed over.
        if position + length - value_start > 2:
            keys.add(position + 6)
        position += length
    return True


def _version_keys(data: bytes, start: int, size: int, keys: set[int]) -> None:
    """Add the string keys of the VS_VERSIONINFO at ``start`` (``size`` bytes of resource)."""
    if size <= 4:
        return
    length, value_length = struct.unpack_from("<HH", data, start)
    if (
        length > size
        or length <= _VERSION_HEADER
        or value_length != _FIXED_INFO_SIZE
        or data[start + 6 : start + 6 + len(_VERSION_KEY)] != _VERSION_KEY
        or struct.unpack_from("<I", data, start + 6 + len(_VERSION_KEY) + 2)[0] != _FIXED_INFO_MAGIC
    ):
        return
    position, end = start + _VERSION_HEADER, start + length
    skipped_var_file_info = False
    while end - position > 6:
        child = _u16(data, position)
        if child > end - position:
            return
        key = data[position + 6 : position + 6 + len(_VAR_FILE_INFO)]
        if not skipped_var_file_info and child > 6 + len(_VAR_FILE_INFO) and key == _VAR_FILE_INFO:
            skipped_var_file_info = True
            position += child
            continue
        header = 6 + len(_STRING_FILE_INFO)
        key = data[position + 6 : position + header]
        if child <= header or key != _STRING_FILE_INFO:
            return
        table, tables_end = position + header, position + child
        while tables_end - table > 6:
            table_length = _u16(data, table)
            if table_length > tables_end - table or table_length <= _TABLE_HEADER:
                return
            if not _string_keys(data, table + _TABLE_HEADER, table + table_length, keys):
                return
            table += table_length
        return


def version_info_keys(data: bytes, layout: ExecutableLayout) -> frozenset[int]:
    """File offsets of the keys of the version-information strings of a PE."""
    keys: set[int] = set()
    size = len(data)
    for entry_rva in _version_resources(data, layout):
        entry = rva_to_offset(layout, size, entry_rva)
        if entry is None or entry + 16 > size:
            continue
        rva, length = _DATA_ENTRY.unpack_from(data, entry)
        start = rva_to_offset(layout, size, rva)
        if start is not None and start + length <= size:
            _version_keys(data, start, length, keys)
    return frozenset(keys)
