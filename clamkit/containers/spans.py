"""Members that are byte ranges of one decompressed stream (CAB folders, CHM's LZX section).

Strategy: the stream is pulled chunk by chunk from a lazy decoder, only as
far as the next member needs, and everything before that member's start is
dropped, so memory is one member plus one chunk.  Ranges are served in
offset order.  A member cut short by the extraction budget is decoded
through, not kept, so the members after it are still found (the reference
skips an oversized member and goes on with the next).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from clamkit.containers.base import ContainerError, Extraction, Member


def range_members(
    chunks: Iterator[bytes],
    ranges: Iterable[tuple[str, int, int]],
    extraction: Extraction,
) -> Iterator[Member]:
    """One Member per ``(name, offset, length)`` range of the stream ``chunks`` yields."""
    window = bytearray()
    base = 0  # stream offset of window[0]
    for name, offset, length in sorted(ranges, key=lambda entry: entry[1]):
        budget = extraction.member_budget()
        if budget <= 0:
            return
        wanted = min(length, budget)
        if offset > base:
            drop = min(offset - base, len(window))
            del window[:drop]
            base += drop
        while base + len(window) < offset + wanted:
            chunk = next(chunks, None)
            if chunk is None:
                raise ContainerError(f"{name}: member runs past the end of the compressed data")
            if base + len(window) < offset:
                # Whole chunks before the member are never kept.
                skip = min(offset - base - len(window), len(chunk))
                base += len(window) + skip
                window = bytearray(chunk[skip:])
            else:
                window += chunk
        start = offset - base
        yield Member(name, bytes(window[start : start + wanted]), length, wanted < length)
