"""Compare file typing and target selection with the reference clamscan.

One corpus of small files of every type (plus near misses and the Debian
test files) is scanned by the reference in a single ``clamscan --debug -z``
call with two databases:

* one ``.hdb`` hash signature per file, whose debug "FP SIGNATURE" line tells
  the type the reference gave the file (HTML files are not hashed raw, so
  their type shows only through target 3);
* one ``.ndb`` signature per target type, all with the same literal marker;
  for every built file (where nothing is unpacked) the set of targets the
  reference reported must be exactly what :func:`target_types` predicts.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import struct
import subprocess
import tarfile
from pathlib import Path

import pytest
from pebuild import PE_HEADERS

from clamkit.engine.filetypes import (
    FileType,
    detect_file_type,
    refine_file_type,
    relative_offsets_resolve,
    target_types,
)
from clamkit.signatures.model import Target

MARK = b"zqxmarkzqx"
TARGETS = [t for t in Target if t not in (Target.UNUSED, Target.INTERNAL_13, Target.INTERNAL_14)]


def _pe() -> bytes:
    header = bytearray(b"MZ" + b"\0" * 0x7E)
    struct.pack_into("<I", header, 0x3C, 0x80)
    return bytes(header) + b"PE\0\0" + b"\0" * 64 + MARK


def _tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        info = tarfile.TarInfo("a.bin")
        info.size = 4
        archive.addfile(info, io.BytesIO(b"\0\1\2\3"))
    return buf.getvalue() + MARK


# Files whose every scanned view contains the marker and that unpack to nothing.
BUILT: dict[str, bytes] = {
    "ascii.txt": b"hello " + MARK + b" world\n",
    "ascii_upper.txt": b"HELLO   " + MARK.upper() + b"\n",  # only the normalised view matches
    "latin1.txt": b"caf\xe9 " + MARK + b"\n",
    "utf8.txt": "na\u00efve ".encode() + MARK + b"\n",
    "utf16le_bom.txt": b"\xff\xfe" + "hello ".encode("utf-16-le") + MARK,
    "utf16be_bom.txt": b"\xfe\xff" + "hello ".encode("utf-16-be") + MARK,
    "stray_control.txt": b"ab\x01" + MARK + b"\n",
    "binary.bin": b"\0\0\0\0" + MARK,
    "late_binary.txt": b"a" * 1100 + b"\0\1\0\2" + MARK,
    "html.html": b"<html><body>" + MARK + b"</body></html>\n",
    "html_no_html_tag.txt": b"see <IMG SRC=x> " + MARK + b"\n",
    "html_late.txt": b"x" * 3000 + b"\n<table>" + MARK + b"</table>\n",
    "html_in_binary.bin": b"\0\0\0\0<html>" + MARK,
    "mail.eml": b"From: a@b\nSubject: " + MARK + b"\n",
    "mail_received.eml": b"Received: from x\nX-Tag: " + MARK + b"\n",
    "pdf.pdf": b"%PDF-1.4\n" + MARK + b"\n%%EOF\n",
    "pdf_late.pdf": b"junk\n%PDF-1.4\n" + MARK,
    "pe.exe": _pe(),
    "mz_only.exe": b"MZ" + b"\0" * 100 + MARK,
    "elf": b"\x7fELF\x02\x01\x01" + b"\0" * 60 + MARK,
    "elf_truncated": b"\x7fEL" + MARK,
    "macho": b"\xcf\xfa\xed\xfe" + b"\0" * 40 + MARK,
    "macho_fat": b"\xca\xfe\xba\xbe\x00\x00\x00\x02" + b"\0" * 40 + MARK,
    "java.class": b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + b"\0" * 40 + MARK,
    "ole2": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600 + MARK,
    "swf": b"FWS\x09" + b"\0" * 20 + MARK,
    "gif": b"GIF89a" + b"\0" * 20 + MARK,
    "png": b"\x89PNG\r\n\x1a\n" + b"\0" * 20 + MARK,
    "jpeg": b"\xff\xd8\xff\xe0" + MARK,
    "tiff": b"II*\0" + MARK,
    "bmp": b"BM" + b"\0" * 20 + MARK,
    "mp3": b"ID3\x03\0" + MARK,
    "mpeg": b"\x00\x00\x01\xb3" + MARK,
    "rtf": b"{\\rtf1 " + MARK + b"}",
    "gz": b"\x1f\x8b\x08\x00" + b"\0" * 10 + MARK,
    "zip": b"PK\x03\x04" + b"\0" * 30 + MARK,
    "bz2": b"BZh9" + MARK,
    "rar": b"Rar!\x1a\x07\x00" + MARK,
    "7z": b"7z\xbc\xaf\x27\x1c" + MARK,
    "xz": b"\xfd7zXZ\x00" + MARK,
    "cab": b"MSCF\0\0\0\0" + b"\0" * 40 + MARK,
    "chm": b"ITSF" + b"\0" * 40 + MARK,
    "arj": b"\x60\xea" + b"\0" * 40 + MARK,
    "cpio": b"070701" + b"0" * 100 + MARK,
    "tar": _tar(),
    "pyc": b"\x55\x0d\x0d\x0a" + b"\0" * 12 + MARK,
}


def _reference_types_and_hits(
    clamscan: str, corpus: Path, work: Path
) -> tuple[dict[str, str], dict[str, set[str]]]:
    ndb = work / "targets.ndb"
    ndb.write_text("".join(f"T{int(t)}:{int(t)}:*:{MARK.hex()}\n" for t in TARGETS))
    hdb = work / "files.hdb"
    names = sorted(p.name for p in corpus.iterdir())
    lines = []
    for index, name in enumerate(names):
        data = (corpus / name).read_bytes()
        lines.append(f"{hashlib.md5(data).hexdigest()}:{len(data)}:H{index}\n")
    hdb.write_text("".join(lines))
    proc = subprocess.run(
        [clamscan, "--debug", "--no-summary", "-z", "-d", str(ndb), "-d", str(hdb), str(corpus)],
        capture_output=True,
        check=False,
    )
    output = (proc.stdout + proc.stderr).decode("latin-1")
    types: dict[str, str] = {}
    for index, file_type in re.findall(
        r"FP SIGNATURE: \S+:H(\d+)\.UNOFFICIAL .*, Type: (\S+)", output
    ):
        types.setdefault(names[int(index)], file_type)
    hits: dict[str, set[str]] = {n: set() for n in names}
    for name, sig in re.findall(r"/([^/\n]+): (T\d+)\.UNOFFICIAL FOUND", output):
        hits[name].add(sig)
    return types, hits


@pytest.fixture(scope="module")
def reference(
    reference_clamscan: str, testfiles: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str], dict[str, set[str]]]:
    work = tmp_path_factory.mktemp("filetypes")
    corpus = work / "corpus"
    corpus.mkdir()
    for name, data in BUILT.items():
        (corpus / name).write_bytes(data)
    for path in testfiles.iterdir():
        if path.is_file():
            shutil.copyfile(path, corpus / f"testfile-{path.name}")
    types, hits = _reference_types_and_hits(reference_clamscan, corpus, work)
    return corpus, types, hits


def _our_type(path: Path) -> FileType:
    data = path.read_bytes()
    return detect_file_type(data, len(data))


def test_types_match_reference(reference: tuple[Path, dict[str, str], dict[str, set[str]]]) -> None:
    corpus, types, _ = reference
    ours = {p.name: _our_type(p).name for p in corpus.iterdir() if p.name in types}
    assert ours == types
    # Files typed HTML from their head are never scanned raw, ignored types
    # not at all: those are the only ones without a hash line.
    unhashed = {_our_type(p) for p in corpus.iterdir() if p.name not in types}
    assert unhashed == {FileType.CL_TYPE_HTML, FileType.CL_TYPE_IGNORED}


def _predicted_targets(data: bytes) -> set[str]:
    file_type = detect_file_type(data, len(data))
    targets = set(target_types(file_type))
    refined = refine_file_type(file_type, data)
    if refined is not file_type:
        # Re-typed text keeps its raw scan but is no longer normalised as text.
        targets = {Target.ANY} | set(target_types(refined))
    return {f"T{int(t)}" for t in targets}


@pytest.mark.parametrize("name", sorted(BUILT))
def test_targets_match_reference(
    name: str, reference: tuple[Path, dict[str, str], dict[str, set[str]]]
) -> None:
    _, _, hits = reference
    assert hits[name] == _predicted_targets(BUILT[name])


def test_eof_offsets_follow_the_pe_header(reference_clamscan: str, tmp_path: Path) -> None:
    """A target-0 ``EOF-n`` signature matches a PE image only where its header parses."""
    tail = b"zqxtailmarkerzqx"
    database = tmp_path / "eof.ndb"
    database.write_text(f"Eof:0:EOF-{len(tail)}:{tail.hex()}\nAnywhere:0:*:{tail.hex()}\n")
    corpus = tmp_path / "pe"
    corpus.mkdir()
    for index, (_, image, _) in enumerate(PE_HEADERS):
        (corpus / f"pe{index:02d}").write_bytes(image + tail)
    output = subprocess.run(
        [reference_clamscan, "--no-summary", "--allmatch", "-d", str(database), str(corpus)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    found = re.findall(r"/(pe\d+): (\w+)\.UNOFFICIAL FOUND", output)
    assert {name for name, sig in found if sig == "Anywhere"} == {
        f"pe{index:02d}" for index in range(len(PE_HEADERS))
    }
    resolved = {name for name, sig in found if sig == "Eof"}
    for index, (label, image, expected) in enumerate(PE_HEADERS):
        data = image + tail
        ours = relative_offsets_resolve(detect_file_type(data, len(data)), data)
        assert (f"pe{index:02d}" in resolved, ours) == (expected, expected), label
