"""Signature offsets (``*``, ``n``, ``EOF-n``, ``EP+n``, ``Sx+n``, ...): text to ``model.Offset``.

Strategy: one anchored regular expression per offset form, tried in turn; a
form's match is turned into an ``Offset`` by a small builder, and an optional
``,maxshift`` suffix (allowed on every form but ``*``) is split off first.

Observed on ClamAV 1.4.6 (the reference): the forms are case-sensitive and
take no spaces; ``EOF+n``, bare ``EOF``/``EP``, ``Sx-n`` and ``SL-n`` are
refused; a shift must be a plain number.  Whether EP/section offsets fit the
signature's target type is the caller's check (``Offset.needs_executable``).
Deliberate differences: the reference also takes ``5,`` and ``,5`` (empty
numbers read as 0) and ``SE`` without a section number; those are refused
here.  ``VI`` (a key in a PE's version information) is, as on the
reference, anything that starts with ``VI``, and its shift is checked but
has no effect there: a VI match starts exactly at a key.  ``$n`` (macro
groups) is accepted by the reference but has no ``OffsetKind``, so it is
refused with a message that says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from clamkit.signatures.model import ANY_OFFSET, Offset, OffsetKind, SignatureError, is_decimal

__all__ = ["parse_offset"]

_FORMS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Offset]], ...] = (
    (re.compile(r"(\d+)"), lambda m: Offset(OffsetKind.ABSOLUTE, int(m[1]))),
    (re.compile(r"EOF-(\d+)"), lambda m: Offset(OffsetKind.EOF, int(m[1]))),
    (re.compile(r"EP([+-]\d+)"), lambda m: Offset(OffsetKind.EP, int(m[1]))),
    (
        re.compile(r"S(\d+)\+(\d+)"),
        lambda m: Offset(OffsetKind.SECTION, int(m[2]), section=int(m[1])),
    ),
    (re.compile(r"SE(\d+)"), lambda m: Offset(OffsetKind.SECTION_ENTIRE, section=int(m[1]))),
    (re.compile(r"SL\+(\d+)"), lambda m: Offset(OffsetKind.LAST_SECTION, int(m[1]))),
)

_UNSUPPORTED = re.compile(r"\$\d+")
_VERSION_INFO = Offset(OffsetKind.VERSION_INFO)

_EXPECTED = (
    "expected *, n, EOF-n, EP+n, EP-n, Sx+n, SEx, SL+n or VI, optionally followed by ,maxshift"
)


def parse_offset(text: str) -> Offset:
    """Parse the offset field of an .ndb line or a logical subsignature."""
    if text == "*":
        return ANY_OFFSET
    base, comma, shift_text = text.partition(",")
    shift = None
    if comma:
        if not is_decimal(shift_text):
            raise SignatureError(f"invalid offset {text!r}: the shift after ',' must be a number")
        shift = int(shift_text)
    if base.startswith("VI"):
        return _VERSION_INFO
    if _UNSUPPORTED.fullmatch(base):
        raise SignatureError(f"offset {text!r} is not supported: $n offsets have no OffsetKind")
    for form, build in _FORMS:
        match = form.fullmatch(base)
        if match and base.isascii():
            offset = build(match)
            if shift is None:
                return offset
            return Offset(offset.kind, offset.value, shift, offset.section)
    raise SignatureError(f"invalid offset {text!r}: {_EXPECTED}")
