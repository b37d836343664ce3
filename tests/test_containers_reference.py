"""Containers against the reference: the Debian corpus and generated containers, name for name.

Every file is scanned by ClamAV's clamscan (one call per option set, all
files at once, ``-z``) and by clamkit's engine with the same options and
the one test signature; the sets of names must be equal.  Files clamkit
does not yet read as the reference does are listed in ``CORPUS_MISSES`` and
``GENERATED_DIFFERENCES`` with the reason; they are strict expected
failures, so each entry must be removed once its format lands.
"""

from __future__ import annotations

import bz2
import lzma
import shutil
import struct
import subprocess
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import inflate64
import py7zr
import pytest
from containers_support import (
    SHARED_TESTSIG,
    TESTFILES,
    clamav_testsig_engine,
    cpio_bytes,
    flat_zip_bomb,
    iso9660_bytes,
    nested_zip,
    nsis_bytes,
    sevenzip_bytes,
    tar_bytes,
    zip_bytes,
    zip_central_entries,
    zip_entry_by_hand,
    zip_with_central,
)

from clamkit.engine import ScanOptions

MiB = 1 << 20

CORPUS = sorted(p.name for p in TESTFILES.glob("clam*")) if TESTFILES.is_dir() else []

_PACKED = "PE unpacker not written yet (executables, engineer K)"
# The reference unpacks some of these even with ScanArchive off.
_BOTH = ("default", "no-archives")
_DEFAULT = ("default",)
# name -> (why clamkit misses what the reference finds, the option sets concerned)
CORPUS_MISSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "clam-aspack.exe": (_PACKED, _BOTH),
    "clam-mew.exe": (_PACKED, _DEFAULT),
    "clam-pespin.exe": (_PACKED, _BOTH),
    "clam-petite.exe": (_PACKED, _DEFAULT),
    "clam-upack.exe": (_PACKED, _DEFAULT),
    "clam-wwpack.exe": (_PACKED, _DEFAULT),
    "clam-yc.exe": (_PACKED, _BOTH),
    "clam.ea05.exe": ("AutoIt script container not read", _DEFAULT),
    "clam.ea06.exe": ("AutoIt script container not read", _DEFAULT),
    "clam_IScab_ext.exe": ("InstallShield cabinet (ISc() format not read", _BOTH),
    "clam_IScab_int.exe": ("InstallShield cabinet (ISc() format not read", _BOTH),
    "clam_ISmsi_ext.exe": ("InstallShield MSI stream format not read", _DEFAULT),
    "clam_ISmsi_int.exe": ("InstallShield MSI stream format not read", _DEFAULT),
}


def _ar(name: str, data: bytes) -> bytes:
    header = b"%-16s%-12d%-6d%-6d%-8o%-10d`\n" % (name.encode(), 0, 0, 0, 0o644, len(data))
    return b"!<arch>\n" + header + data + b"\n" * (len(data) % 2)


def _deflate64_zip(exe: bytes) -> bytes:
    deflater = inflate64.Deflater()
    return zip_entry_by_hand(exe, 9, deflater.deflate(exe) + deflater.flush())


def _encrypted_zip(exe: bytes) -> bytes:
    data = bytearray(zip_bytes([("clam.exe", exe)]))
    struct.pack_into("<H", data, 6, 1)
    struct.pack_into("<H", data, data.index(b"PK\x01\x02") + 8, 1)
    return bytes(data)


def _duplicate_entries_zip(exe: bytes) -> bytes:
    data = zip_bytes([("a", b"hello"), ("clam.exe", exe)])
    first, second = zip_central_entries(data)
    return zip_with_central(data, [first, first, second, second])


def _overlapping_zip(exe: bytes) -> bytes:
    inner = zip_bytes([("in", exe)], zipfile.ZIP_STORED)
    inner_local = inner[: inner.index(b"PK\x01\x02")]
    data = zip_bytes([("junk", b"x" * 10), ("outer", inner_local)], zipfile.ZIP_STORED)
    junk, outer = zip_central_entries(data)
    (inside,) = zip_central_entries(inner)
    pointing = bytearray(inside)
    struct.pack_into("<I", pointing, 42, data.index(b"PK\x03\x04", 1) + 30 + len("outer"))
    return zip_with_central(data, [junk, outer, bytes(pointing)])


def _junk(count: int) -> list[tuple[str, bytes]]:
    """Members that count toward MaxFiles (more than 5 bytes)."""
    return [(f"junk{i}", b"junk%d" % i * 20) for i in range(count)]


def _gz(data: bytes) -> bytes:
    return zlib.compress(data, wbits=31)


_HELLO = b"hello\n"
_OOXML_TYPES = (
    b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'content-types"><Override PartName="/word/document.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_JUNK = b"\x00\x01junk" * 30
_BIG = bytes(3 * MiB // 2)

GENERATED: dict[str, Callable[[bytes], bytes]] = {
    "stored.zip": lambda exe: zip_bytes([("clam.exe", exe)], zipfile.ZIP_STORED),
    "deflated.zip": lambda exe: zip_bytes([("a", _HELLO), ("clam.exe", exe)]),
    "bzip2.zip": lambda exe: zip_bytes([("clam.exe", exe)], zipfile.ZIP_BZIP2),
    "lzma.zip": lambda exe: zip_bytes([("clam.exe", exe)], zipfile.ZIP_LZMA),
    "deflate64.zip": _deflate64_zip,
    "encrypted.zip": _encrypted_zip,
    "duplicates.zip": _duplicate_entries_zip,
    "overlapping.zip": _overlapping_zip,
    "flat-bomb-6.zip": lambda exe: flat_zip_bomb(6, exe),
    "flat-bomb-7.zip": lambda exe: flat_zip_bomb(7, exe),
    "no-central.zip": lambda exe: (z := zip_bytes([("clam.exe", exe)]))[: z.index(b"PK\x01\x02")],
    "document.docx": lambda exe: zip_bytes(
        [
            ("[Content_Types].xml", _OOXML_TYPES),
            ("word/document.xml", b'<?xml version="1.0"?><w:document/>'),
            ("word/embeddings/clam.exe", exe),
        ]
    ),
    "document.odt": lambda exe: zip_bytes(
        [("mimetype", b"application/vnd.oasis.opendocument.text"), ("clam.exe", exe)]
    ),
    "nested16.zip": lambda exe: nested_zip(exe, 16),
    "nested17.zip": lambda exe: nested_zip(exe, 17),
    "nested3.zip": lambda exe: nested_zip(exe, 3),
    "thirteen.zip": lambda exe: zip_bytes(
        [*((f"f{i}", b"junk%d" % i) for i in range(12)), ("clam.exe", exe)]
    ),
    "thirteen.tar": lambda exe: tar_bytes(
        [*((f"f{i}", b"junk%d" % i) for i in range(12)), ("clam.exe", exe)]
    ),
    "thirteen.7z": lambda exe: sevenzip_bytes(
        [*((f"f{i}", b"junk%d" % i) for i in range(12)), ("clam.exe", exe)]
    ),
    "three-junk.tar": lambda exe: tar_bytes([*_junk(3), ("clam.exe", exe)]),
    "four-junk.tar": lambda exe: tar_bytes([*_junk(4), ("clam.exe", exe)]),
    "three-junk.7z": lambda exe: sevenzip_bytes([*_junk(3), ("clam.exe", exe)]),
    "four-junk.7z": lambda exe: sevenzip_bytes([*_junk(4), ("clam.exe", exe)]),
    "big-deflated.zip": lambda exe: zip_bytes([("big", _BIG), ("clam.exe", exe)]),
    "big-stored.zip": lambda exe: zip_bytes([("big", _BIG), ("clam.exe", exe)], 0),
    "big-first.tar": lambda exe: tar_bytes([("big", _BIG), ("clam.exe", exe)]),
    "big-last.tar": lambda exe: tar_bytes([("clam.exe", exe), ("big", _BIG)]),
    "big.gz": lambda exe: _gz(_BIG),
    "ustar.tar": lambda exe: tar_bytes([("clam.exe", exe)], tarfile.USTAR_FORMAT),
    "gnu-longname.tar": lambda exe: tar_bytes([("d" * 120 + "/clam.exe", exe)], tarfile.GNU_FORMAT),
    "pax-longname.tar": lambda exe: tar_bytes([("d" * 120 + "/clam.exe", exe)], tarfile.PAX_FORMAT),
    "clam.tar.bz2": lambda exe: bz2.compress(tar_bytes([("clam.exe", exe)])),
    "clam.tar.xz": lambda exe: lzma.compress(tar_bytes([("clam.exe", exe)])),
    "clam.exe.gz": _gz,
    "clam.exe.xz": lzma.compress,
    "clam.exe.lzma": lambda exe: lzma.compress(exe, format=lzma.FORMAT_ALONE),
    "hello-clam.gz": lambda exe: _gz(_HELLO) + _gz(exe),
    "clam-hello.gz": lambda exe: _gz(exe) + _gz(_HELLO),
    "clam-garbage.gz": lambda exe: _gz(exe) + b"garbage!",
    "cut.gz": lambda exe: _gz(exe)[:-20],
    "damaged.gz": lambda exe: (g := _gz(exe))[:30] + b"\xff" * 10 + g[40:],
    "cut.7z": lambda exe: (z := sevenzip_bytes([("clam.exe", exe)]))[: len(z) // 2],
    "cut.tar": lambda exe: tar_bytes([("clam.exe", exe)])[:700],
    "hello-clam.bz2": lambda exe: bz2.compress(_HELLO) + bz2.compress(exe),
    "clam-hello.bz2": lambda exe: bz2.compress(exe) + bz2.compress(_HELLO),
    "hello-clam.xz": lambda exe: lzma.compress(_HELLO) + lzma.compress(exe),
    "clam-hello.xz": lambda exe: lzma.compress(exe) + lzma.compress(_HELLO),
    **{
        f"clam.{kind}.cpio": (
            lambda k: lambda exe: cpio_bytes([("a", _HELLO), ("clam.exe", exe)], k)
        )(kind)
        for kind in ("newc", "crc", "odc", "bin-le", "bin-be")
    },
    "lzma2.7z": lambda exe: sevenzip_bytes([("a", _HELLO), ("clam.exe", exe)]),
    "copy.7z": lambda exe: sevenzip_bytes([("clam.exe", exe)], [{"id": py7zr.FILTER_COPY}]),
    "bcj.7z": lambda exe: sevenzip_bytes(
        [("clam.exe", exe)], [{"id": py7zr.FILTER_X86}, {"id": py7zr.FILTER_LZMA}]
    ),
    "ppmd.7z": lambda exe: sevenzip_bytes([("clam.exe", exe)], [{"id": py7zr.FILTER_PPMD}]),
    "bzip2.7z": lambda exe: sevenzip_bytes([("clam.exe", exe)], [{"id": py7zr.FILTER_BZIP2}]),
    "encrypted.7z": lambda exe: sevenzip_bytes([("clam.exe", exe)], password="x"),
    "encrypted-header.7z": lambda exe: sevenzip_bytes(
        [("clam.exe", exe)], password="x", encrypt_header=True
    ),
    "stub-zip.bin": lambda exe: _JUNK + zip_bytes([("clam.exe", exe)]),
    "stub-7z.bin": lambda exe: _JUNK + sevenzip_bytes([("clam.exe", exe)]),
    "stub-exe.bin": lambda exe: _JUNK + exe,
    "stub-exe-tail.bin": lambda exe: _JUNK + exe + b"\x00tail",
    "root.iso": lambda exe: iso9660_bytes([("a.txt", _HELLO), ("clam.exe", exe)]),
    "subdirectory.iso": lambda exe: iso9660_bytes([("clam.exe", exe)], "dir"),
    "nsis-lzma.exe": lambda exe: nsis_bytes([_HELLO, exe], "lzma"),
    "nsis-deflate.exe": lambda exe: nsis_bytes([_HELLO, exe], "deflate"),
    "nsis-stored.exe": lambda exe: nsis_bytes([_HELLO, exe], "stored"),
    "nsis-solid-lzma.exe": lambda exe: nsis_bytes([_HELLO, exe], "lzma", solid=True),
    "nsis-solid-deflate.exe": lambda exe: nsis_bytes([_HELLO, exe], "deflate", solid=True),
    "nsis-bzip2.exe": lambda exe: nsis_bytes([_HELLO, exe], "bzip2"),
    "nsis-solid-bzip2.exe": lambda exe: nsis_bytes([_HELLO, exe], "bzip2", solid=True),
    "clam.ar": lambda exe: _ar("clam.exe/", exe),
    "gz-in.ar": lambda exe: _ar("clam.exe.gz/", _gz(exe)),
}

# (file, option set) -> why clamkit differs from the reference there.
GENERATED_DIFFERENCES: dict[tuple[str, str], str] = {
    ("document.docx", "limits"): (
        "the reference extracts an OOXML package's parts twice (as OOXML, then as a zip: it "
        "reports a name twice with -z), so MaxFiles is reached at half the parts"
    ),
    # clamkit reads bare LZMA and ar archives; the reference has no reader for either.
    **{
        (name, option_set): "clamkit reads this format, the reference does not"
        for name in ("clam.exe.lzma", "gz-in.ar")
        for option_set in ("default", "limits", "scansize", "encrypted", "no-pe")
    },
    ("clam.ar", "no-pe"): (
        "clamkit reads ar archives; the reference finds the stored executable only as an "
        "embedded image, which ScanPE off turns off"
    ),
}

# name -> (clamscan arguments, the same as ScanOptions fields)
OPTION_SETS: dict[str, tuple[list[str], dict[str, object]]] = {
    "default": ([], {}),
    "limits": (
        ["--alert-exceeds-max=yes", "--max-files=5", "--max-recursion=3", "--max-filesize=1M"],
        {"alert_exceeds_max": True, "max_files": 5, "max_recursion": 3, "max_filesize": MiB},
    ),
    "scansize": (
        ["--alert-exceeds-max=yes", "--max-scansize=1M"],
        {"alert_exceeds_max": True, "max_scansize": MiB},
    ),
    "encrypted": (["--alert-encrypted-archive=yes"], {"alert_encrypted_archive": True}),
    "no-archives": (["--scan-archive=no"], {"scan_archive": False}),
    "no-pe": (["--scan-pe=no"], {"scan_pe": False}),
}

# The corpus is compared under these option sets (the others are about limits).
CORPUS_OPTION_SETS = ("default", "no-archives")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe_path = TESTFILES / "clam.exe"
    if not exe_path.is_file():
        pytest.skip("Debian's clamav-testfiles is not installed")
    exe = exe_path.read_bytes()
    directory = tmp_path_factory.mktemp("containers")
    for name, build in GENERATED.items():
        (directory / name).write_bytes(build(exe))
    return directory


def _reference_names(clamscan: str, arguments: list[str], paths: list[Path]) -> dict[str, set[str]]:
    """File name -> names the reference reports (-z), from one clamscan run."""
    command = [clamscan, "--no-summary", "-z", "-d", str(SHARED_TESTSIG / "clamav.hdb")]
    run = subprocess.run(
        [*command, *arguments, *map(str, paths)], capture_output=True, text=True, check=False
    )
    found: dict[str, set[str]] = {path.name: set() for path in paths}
    for line in run.stdout.splitlines():
        path, _, verdict = line.rpartition(": ")
        if verdict.endswith(" FOUND"):
            found[Path(path).name].add(verdict.removesuffix(" FOUND"))
    return found


_reference_cache: dict[tuple[str, str], dict[str, set[str]]] = {}


def _reference(
    clamscan: str, option_set: str, corpus: bool, directory: Path
) -> dict[str, set[str]]:
    key = (option_set, "corpus" if corpus else str(directory))
    if key not in _reference_cache:
        names = CORPUS if corpus else list(GENERATED)
        paths = [directory / name for name in names]
        _reference_cache[key] = _reference_names(clamscan, OPTION_SETS[option_set][0], paths)
    return _reference_cache[key]


def _clamkit(path: Path, option_set: str) -> set[str]:
    options = ScanOptions(allmatch=True, **OPTION_SETS[option_set][1])  # type: ignore[arg-type]
    return set(clamav_testsig_engine().scan_file(path, options).names)


def _corpus_cases() -> list[object]:
    cases = []
    for option_set in CORPUS_OPTION_SETS:
        for name in CORPUS:
            why, option_sets = CORPUS_MISSES.get(name, ("", ()))
            miss = option_set in option_sets
            marks = [pytest.mark.xfail(strict=True, reason=why)] if miss else []
            cases.append(pytest.param(option_set, name, marks=marks, id=f"{option_set}-{name}"))
    return cases


def _generated_cases() -> list[object]:
    cases = []
    for option_set in OPTION_SETS:
        for name in GENERATED:
            why = GENERATED_DIFFERENCES.get((name, option_set))
            marks = [pytest.mark.xfail(strict=True, reason=why)] if why else []
            cases.append(pytest.param(option_set, name, marks=marks, id=f"{option_set}-{name}"))
    return cases


@pytest.mark.parametrize(("option_set", "name"), _corpus_cases())
def test_corpus_file(reference_clamscan: str, testfiles: Path, option_set: str, name: str) -> None:
    expected = _reference(reference_clamscan, option_set, True, testfiles)[name]
    assert _clamkit(testfiles / name, option_set) == expected


@pytest.mark.parametrize(("option_set", "name"), _generated_cases())
def test_generated_container(
    reference_clamscan: str, generated: Path, option_set: str, name: str
) -> None:
    expected = _reference(reference_clamscan, option_set, False, generated)[name]
    assert _clamkit(generated / name, option_set) == expected


def test_the_corpus_misses_are_still_in_the_corpus() -> None:
    assert not CORPUS or set(CORPUS_MISSES) <= set(CORPUS)


# Installers built by NSIS itself, one per compressor, solid or not.
MAKENSIS_KINDS = [f"{c}{s}" for c in ("zlib", "bzip2", "lzma") for s in ("", "-solid")]
MAKENSIS_DIFFERENCES: dict[str, str] = {}


@pytest.fixture(scope="module")
def makensis_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    makensis = shutil.which("makensis")
    exe_path = TESTFILES / "clam.exe"
    if makensis is None or not exe_path.is_file():
        pytest.skip("makensis (apt-get install nsis) or Debian's clamav-testfiles missing")
    directory = tmp_path_factory.mktemp("nsis")
    shutil.copy(exe_path, directory / "clam.exe")
    (directory / "hello.txt").write_bytes(_HELLO)
    for kind in MAKENSIS_KINDS:
        compressor, _, solid = kind.partition("-")
        script = (
            f"SetCompressor {'/SOLID ' if solid else ''}{compressor}\n"
            f'OutFile "{kind}.exe"\nSection\nSetOutPath $TEMP\n'
            "File hello.txt\nFile clam.exe\nSectionEnd\n"
        )
        (directory / f"{kind}.nsi").write_text(script)
        subprocess.run(
            [makensis, "-V1", f"{kind}.nsi"], cwd=directory, check=True, capture_output=True
        )
    return directory


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(
            kind,
            marks=[pytest.mark.xfail(strict=True, reason=MAKENSIS_DIFFERENCES[kind])]
            if kind in MAKENSIS_DIFFERENCES
            else [],
        )
        for kind in MAKENSIS_KINDS
    ],
)
def test_makensis_installer(reference_clamscan: str, makensis_built: Path, kind: str) -> None:
    paths = [makensis_built / f"{k}.exe" for k in MAKENSIS_KINDS]
    key = ("default", str(makensis_built))
    if key not in _reference_cache:
        _reference_cache[key] = _reference_names(reference_clamscan, [], paths)
    expected = _reference_cache[key][f"{kind}.exe"]
    assert _clamkit(makensis_built / f"{kind}.exe", "default") == expected
