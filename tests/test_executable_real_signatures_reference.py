"""Real Target:1 logical signatures placed into a real PE: the reference's verdicts.

A deterministic selection of real-subset's logical signatures for PE files
(every n-th, and every one whose matching needs the executable: EP/section
offsets, EntryPoint/NumberOfSections conditions) is placed into copies of a
small mingw-built program: each subsignature with an EP, Sx or SL offset is
written where its offset points, the rest appended after the program.  The
whole set is scanned with the full real-subset database by the reference
(``-z``, one call) and by clamkit; the names found must agree file by file.
"""

from __future__ import annotations

from pathlib import Path

from synth import logical_bytes, pattern_bytes
from test_pe_programs import build_programs, programs_directory
from test_real_signatures_reference import _reference_verdicts

from clamkit.database.loader import load_database
from clamkit.engine import ScanOptions, compile_engine
from clamkit.executables import ExecutableLayout
from clamkit.executables.pe import parse_pe
from clamkit.signatures.model import (
    BodySubsignature,
    LogicalSignature,
    Offset,
    OffsetKind,
    Target,
)

# Every n-th plain PE signature (those needing the executable are all taken).
PLAIN_STRIDE = 400
MAX_EXECUTABLE_AWARE = 120


def _needs_executable(signature: LogicalSignature) -> bool:
    description = signature.target_description
    return (
        description.entry_point is not None
        or description.number_of_sections is not None
        or any(
            isinstance(sub, BodySubsignature) and sub.offset.needs_executable
            for sub in signature.subsignatures
        )
    )


def _position(offset: Offset, layout: ExecutableLayout) -> int | None:
    if offset.kind is OffsetKind.EP and layout.entry_point is not None:
        return layout.entry_point + offset.value
    if offset.kind is OffsetKind.LAST_SECTION:
        return layout.sections[-1].raw_offset + offset.value
    sections = {OffsetKind.SECTION, OffsetKind.SECTION_ENTIRE}
    if offset.kind in sections and offset.section is not None:
        index = offset.section
        return (
            layout.sections[index].raw_offset + offset.value
            if index < len(layout.sections)
            else None
        )
    return None


def _placed(signature: LogicalSignature, base: bytes, layout: ExecutableLayout) -> bytes:
    data = bytearray(base)
    for sub in signature.subsignatures:
        if isinstance(sub, BodySubsignature) and sub.offset.needs_executable:
            at = _position(sub.offset, layout)
            reading = pattern_bytes(sub.pattern)
            if at is not None and at >= 0 and at + len(reading) <= len(data):
                data[at : at + len(reading)] = reading
    return bytes(data) + logical_bytes(signature) + b"\n..end..\n"


def test_real_pe_signatures_in_a_real_pe(
    reference_clamscan: str, shared_sigs: Path, tmp_path_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    programs = build_programs(programs_directory(tmp_path_factory))
    base_path = next(path for path in programs if path.name == "files-pe32-stripped.exe")
    base = base_path.read_bytes()
    layout = parse_pe(base)
    assert isinstance(layout, ExecutableLayout)
    databases = [shared_sigs / "real-subset"]
    database = load_database(databases)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    plain = aware = 0
    for index, signature in enumerate(database.logical_signatures):
        if signature.target_description.target is not Target.PE:
            continue
        if _needs_executable(signature):
            aware += 1
            if aware > MAX_EXECUTABLE_AWARE:
                continue
        else:
            plain += 1
            if plain % PLAIN_STRIDE:
                continue
        (corpus / f"ldb-{index}.exe").write_bytes(_placed(signature, base, layout))
    (corpus / "program.exe").write_bytes(base)
    reference = _reference_verdicts(reference_clamscan, databases, corpus)
    engine = compile_engine(database)
    options = ScanOptions(allmatch=True)
    differences = {}
    for path in sorted(corpus.iterdir()):
        ours = set(engine.scan_file(path, options).names)
        if ours != reference[path.name]:
            differences[path.name] = (
                sorted(reference[path.name] - ours),
                sorted(ours - reference[path.name]),
            )
    assert not differences
    # The placement must work: most files are found by both.
    assert len(reference) > len(list(corpus.iterdir())) // 2, (len(reference), aware, plain)
