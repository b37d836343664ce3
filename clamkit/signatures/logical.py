"""Logical signatures (.ldb/.ldu): one line -> ``model.LogicalSignature``.

Strategy: ``Name;TargetDescriptionBlock;LogicalExpression;Subsig0;Subsig1;...``
is split the way the reference splits it (from the expression on, a ';' inside
an unescaped ``/.../`` belongs to a PCRE), then checked in the reference's
order, because the order decides whether a line is an error or silently
skipped:

1. the expression (``clamkit.signatures.expression``); its highest index + 1
   must equal the number of subsignatures, at most 64;
2. the target description block: ``Engine`` (first, a range), ``Target``,
   ``FileSize``/``EntryPoint``/``NumberOfSections`` (``a-b`` ranges; an empty
   side reads as 0), ``Container``/``HandlerType`` (a ``CL_TYPE_*`` name),
   ``Intermediates`` (names joined by ``>``), ``IconGroup1``/``IconGroup2``;
   any key other than Engine and Target needs ``Engine`` with a minimum of at
   least 51;
3. the subsignatures, classified like the reference: ``$...$`` macro, any
   '/' a PCRE (``clamkit.signatures.pcre``), '(' with two '#' a byte compare
   (``clamkit.signatures.bytecompare``), ``fuzzy_img#`` an image hash, else
   ``[Offset:]HexPattern[::modifiers]``.

Lines the reference loads but never uses raise ``SkippedSignature`` (a
``SignatureError`` subclass carrying a short ``reason``) instead of an error:
an unknown attribute or file type name, a target type above 14, an
``Engine`` range excluding the functionality level (when one is given), and
features clamkit does not implement (macro and image-hash subsignatures).
Executable-relative offsets (``EP``, ``Sx``, ``SL``, ``SE``, ``VI``) are
refused for targets other than PE, ELF and Mach-O, as the reference does.
"""

from __future__ import annotations

import functools
import re

from clamkit.signatures.bytecompare import parse_byte_compare
from clamkit.signatures.construct import constructor
from clamkit.signatures.expression import parse_expression
from clamkit.signatures.model import (
    ANY_OFFSET,
    EXECUTABLE_TARGETS,
    BodySubsignature,
    LogicalSignature,
    PcreSubsignature,
    Range,
    SignatureError,
    Subsignature,
    SubsignatureModifiers,
    Target,
    TargetDescription,
    is_decimal,
)
from clamkit.signatures.offsets import parse_offset
from clamkit.signatures.pattern import parse_pattern
from clamkit.signatures.pcre import parse_pcre_subsignature

__all__ = ["MAX_SUBSIGNATURES", "SkippedSignature", "parse_ldb_line"]

MAX_SUBSIGNATURES = 64
MAX_MACRO_GROUPS = 32
# Attributes beyond Engine and Target appeared with this functionality level.
MIN_EXTENDED_ENGINE = 51
_RANGE_KEYS = {
    "Engine": "engine",
    "FileSize": "file_size",
    "EntryPoint": "entry_point",
    "NumberOfSections": "number_of_sections",
}
_TYPE_KEYS = {"Container": "container", "HandlerType": "handler_type"}
_STRING_KEYS = {"IconGroup1": "icon_group1", "IconGroup2": "icon_group2"}
_logical_signature = constructor(LogicalSignature)
_body_subsignature = constructor(BodySubsignature)
_MACRO = re.compile(r"\$\{\s*[+-]?\d+-\s*[+-]?\d+\}\s*[+-]?(\d+)\$")


class SkippedSignature(SignatureError):
    """A well-formed line the reference loads without using; ``reason`` says why."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_ldb_line(
    line: str, name_suffix: str = "", *, functionality_level: int | None = None
) -> LogicalSignature:
    """Parse one .ldb/.ldu line; ``name_suffix`` (the loader's ``.UNOFFICIAL``) ends the name.

    Raises ``SkippedSignature`` for lines the reference skips (with
    ``functionality_level`` given, also for an excluding ``Engine`` range) and
    ``SignatureError`` saying what is wrong for malformed ones.
    """
    source = line.rstrip("\r\n")
    fields = _split_fields(source)
    if len(fields) < 4:
        raise SignatureError(
            "a logical signature needs Name;TargetDescription;Expression;Subsignature..."
        )
    name, description_text, expression_text, *subsignature_texts = fields
    if not name:
        raise SignatureError("empty signature name")
    expression = parse_expression(expression_text, len(subsignature_texts), all_counted=True)
    if len(subsignature_texts) > MAX_SUBSIGNATURES:
        raise SignatureError(f"more than {MAX_SUBSIGNATURES} subsignatures")
    description = _description(description_text, functionality_level)
    target = description.target  # never None once checked
    subsignatures = _parse_subsignatures(subsignature_texts, target)  # type: ignore[arg-type]
    return _logical_signature(name + name_suffix, description, expression, subsignatures, source)


def _split_fields(line: str) -> list[str]:
    """Split at ';' except inside an unescaped /.../ from the expression field on."""
    if "/" not in line:
        return line.split(";")
    fields: list[str] = []
    start = 0
    inside = False
    for position, char in enumerate(line):
        if char == ";" and not inside:
            fields.append(line[start:position])
            start = position + 1
        elif char == "/" and len(fields) >= 2 and (position == start or line[position - 1] != "\\"):
            inside = not inside
    fields.append(line[start:])
    return fields


@functools.lru_cache(maxsize=4096)
def _description(text: str, level: int | None) -> TargetDescription:
    # Real databases repeat a few hundred blocks; the result is immutable.
    description = _parse_description(text)
    _check_description(description, level)
    return description


def _parse_description(text: str) -> TargetDescription:
    values: dict[str, object] = {}
    extended = False
    for position, attribute in enumerate(text.split(",")):
        key, colon, value = attribute.partition(":")
        if not colon:
            raise SignatureError(f"target description attribute {attribute!r} has no ':'")
        if key == "Engine":
            if position:
                raise SignatureError("the Engine attribute must come first")
        elif key != "Target":
            extended = True
        if key == "Target":
            values["target"] = _parse_target(value)
        elif key in _RANGE_KEYS:
            values[_RANGE_KEYS[key]] = _parse_range(key, value)
        elif key in _TYPE_KEYS:
            values[_TYPE_KEYS[key]] = _file_type(value, key)
        elif key == "Intermediates":
            values["intermediates"] = tuple(_file_type(part, key) for part in value.split(">"))
        elif key in _STRING_KEYS:
            values[_STRING_KEYS[key]] = value
        else:
            raise SkippedSignature(f"unknown attribute {key!r}", "unknown attribute")
    engine = values.get("engine")
    if extended and (not isinstance(engine, Range) or engine.low < MIN_EXTENDED_ENGINE):
        raise SignatureError(
            f"attributes other than Target need Engine:{MIN_EXTENDED_ENGINE}-... or higher"
        )
    return TargetDescription(**values)  # type: ignore[arg-type]


def _number(key: str, text: str) -> int:
    # The reference takes digits only, and an empty text as 0.
    if text and not is_decimal(text):
        raise SignatureError(f"invalid number {text!r} for {key}")
    return int(text) if text else 0


def _parse_target(text: str) -> Target:
    number = _number("Target", text)
    if number not in Target._value2member_map_:
        raise SkippedSignature(f"target type {number} is not supported", "unsupported target")
    return Target(number)


def _parse_range(key: str, text: str) -> Range:
    low, dash, high = text.partition("-")
    if not dash:
        raise SignatureError(f"{key} needs a range min-max, not {text!r}")
    return Range(_number(key, low), _number(key, high))


@functools.cache
def _known_file_types() -> frozenset[str]:
    # Imported here: the engine package imports the loader, which imports this
    # module, so a module-level import would be circular.
    from clamkit.engine.filetypes import FileType

    # The reference's name table lacks these two internal values.
    return frozenset(member.name for member in FileType) - {"CL_TYPE_ERROR", "CL_TYPE_OTHER"}


def _file_type(name: str, key: str) -> str:
    if name not in _known_file_types():
        raise SkippedSignature(f"unknown file type {name!r} in {key}", "unknown file type")
    return name


def _check_description(description: TargetDescription, level: int | None) -> None:
    engine = description.engine
    if level is not None and engine is not None and level not in engine:
        raise SkippedSignature(
            f"engine range {engine.low}-{engine.high} excludes functionality level {level}",
            "functionality level",
        )
    target = description.target
    if target is None:
        raise SignatureError("the target description has no Target")
    if (description.icon_group1 or description.icon_group2) and target is not Target.PE:
        raise SignatureError("IconGroup is only supported for target 1 (PE)")
    if (
        description.entry_point is not None or description.number_of_sections is not None
    ) and target not in EXECUTABLE_TARGETS:
        raise SignatureError("EntryPoint/NumberOfSections need target 1, 6 or 9")


def _parse_subsignatures(texts: list[str], target: Target) -> tuple[Subsignature, ...]:
    subsignatures = []
    for index, text in enumerate(texts):
        try:
            if ":" not in text and "/" not in text and "#" not in text and "$" not in text:
                # A bare pattern (most of them): no offset to check.
                subsignatures.append(_parse_body(text))
                continue
            subsignature = _classify(text, index)
        except SkippedSignature:
            raise
        except SignatureError as error:
            raise SignatureError(f"subsignature {index} ({_shorten(text)}): {error}") from None
        if (
            target not in EXECUTABLE_TARGETS
            and isinstance(subsignature, BodySubsignature | PcreSubsignature)
            and subsignature.offset.needs_executable
        ):
            raise SignatureError(
                f"subsignature {index}: offset {subsignature.offset.kind.value} "
                "needs target 1, 6 or 9"
            )
        subsignatures.append(subsignature)
    return tuple(subsignatures)


def _classify(text: str, index: int) -> Subsignature:
    if text.startswith("$"):
        macro = _MACRO.fullmatch(text)
        if macro is None or int(macro.group(1)) >= MAX_MACRO_GROUPS:
            raise SignatureError(f"invalid macro subsignature {text!r}")
        raise SkippedSignature("macro subsignatures are not supported", "macro subsignature")
    if "/" in text:
        return parse_pcre_subsignature(text, index)
    first_hash = text.find("#")
    if "(" in text and first_hash >= 0 and text.rfind("#") != first_hash:
        return parse_byte_compare(text)
    if text.startswith("fuzzy_img#"):
        raise SkippedSignature("image fuzzy hashes are not supported", "fuzzy image hash")
    return _parse_body(text)


@functools.lru_cache(maxsize=1 << 17)
def _parse_body(text: str) -> BodySubsignature:
    """``[Offset:]HexPattern[::modifiers]``.  A quarter of the real ones are
    repeats (``4d5a`` alone stands in thousands), so parses are shared: the
    real database's 116,000 distinct ones fit in the cache."""
    # The reference cuts at most five ':' fields and then reads: pattern;
    # offset:pattern; pattern:(ignored):modifiers; offset:pattern:(ignored):
    # modifiers; with five fields (the last one holding the rest) only the first,
    # as a plain pattern, which real signatures rely on.
    fields = text.split(":", 4)
    offset_text = fields[0] if len(fields) in (2, 4) else None
    pattern_text = fields[1] if offset_text is not None else fields[0]
    modifiers = _parse_modifiers(fields[-1] if len(fields) in (3, 4) else "")
    offset = ANY_OFFSET if offset_text is None else parse_offset(offset_text)
    return _body_subsignature(offset, parse_pattern(pattern_text, modifiers), modifiers)


@functools.cache
def _parse_modifiers(text: str) -> SubsignatureModifiers:
    unknown = set(text) - set("iwfa")
    if unknown:
        raise SignatureError(f"unknown subsignature modifier(s) {''.join(sorted(unknown))!r}")
    return SubsignatureModifiers(
        nocase="i" in text, wide="w" in text, fullword="f" in text, ascii="a" in text
    )


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
