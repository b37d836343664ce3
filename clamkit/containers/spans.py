"""Members out of hand-written decoders: whole decoded members, and byte ranges of one
decompressed stream (CAB folders).

Strategy: a whole member whose declared size is over the member budget is
not decoded at all: the scanner skips it (MaxFileSize) or stops there
(MaxScanSize) on its declared size, as the reference does, so decoding it
would only burn time; it is yielded empty and marked truncated.  Anything
else is decoded to its declared size, never further.  A range of a stream
is different: the reference extracts what the stream holds of it up to
the budget, whatever size it claims, and so do we.  A stream is pulled
chunk by chunk from a lazy decoder, only as far as the next member needs,
and everything before that member's start is dropped, so memory is one
member plus one chunk; ranges are served in offset order, a skipped range
is decoded through (not kept) on the way to the next one, a range the
stream ends inside is what the stream holds of it, and nothing past
MaxScanSize is decoded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from clamkit.containers.base import Extraction, Member


def range_members(
    chunks: Iterator[bytes],
    ranges: Iterable[tuple[str, int, int]],
    extraction: Extraction,
) -> Iterator[Member]:
    """One Member per ``(name, offset, length)`` range of the stream ``chunks`` yields."""
    window = bytearray()
    base = 0  # stream offset of window[0]
    reach = extraction.options.max_scansize
    for name, offset, length in sorted(ranges, key=lambda entry: entry[1]):
        # A range is what the stream holds of it, up to the budget: the reference
        # extracts this way whatever size the entry claims.
        wanted = min(length, extraction.member_budget())
        if 0 < reach < offset + wanted:
            # Not decoded so far: what lies before it would have filled the
            # scan first (and a hand-written decoder would take minutes).
            yield Member(name, b"", length, truncated=True)
            return
        if wanted <= 0:  # wherever it claims to start, there is nothing to decode
            yield Member(name, b"", length, truncated=length > 0)
            continue
        if offset > base:
            drop = min(offset - base, len(window))
            del window[:drop]
            base += drop
        while base + len(window) < offset + wanted:
            chunk = next(chunks, None)
            if chunk is None:
                break  # the stream ends first: the member is what there is of it
            if base + len(window) < offset:
                # Whole chunks before the member are never kept.
                skip = min(offset - base - len(window), len(chunk))
                base += len(window) + skip
                window = bytearray(chunk[skip:])
            else:
                window += chunk
        start = offset - base
        content = bytes(window[start : start + wanted])
        if len(content) < wanted:  # the stream ended inside the range
            yield Member(name, content, len(content))
        else:
            yield Member(name, content, length, truncated=wanted < length)


def decoded_member(
    name: str, declared: int, extraction: Extraction, decode: Callable[[int], bytes]
) -> Member:
    """The member ``decode(declared)`` gives, unless ``declared`` is over the budget."""
    if declared > extraction.member_budget():
        return Member(name, b"", declared, truncated=True)
    return Member(name, decode(declared), declared)
