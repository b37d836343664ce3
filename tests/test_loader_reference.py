"""The loader against ClamAV 1.4.6 itself: same inputs, same verdict, same ``Known viruses``.

Each case is loaded by clamkit and by the reference ``clamscan``; either both
refuse it, or both load it and ``Database.signature_count`` equals the
reference's ``Known viruses``.  The edge cases below are the ones the loader's
rules were measured on.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from clamkit.database.loader import Database, DatabaseError, LoadOptions, load_database

CVD_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "cvd"
KNOWN = re.compile(r"^Known viruses: (\d+)$", re.MULTILINE)
# The whole real subset must load this fast (the reference: under a second).
REAL_SUBSET_SECONDS = 3.0

MD5 = "44d88612fea8a8f36de82e1278abb02f"
SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
EICAR = "58354f2150254041505b345c505a58353428505e"


def reference_known(clamscan: str, paths: list[Path], target: Path, pua: bool) -> int | None:
    """The reference's ``Known viruses``, or None when it refuses the databases."""
    command = [clamscan, *(["--detect-pua"] if pua else [])]
    for path in paths:
        command += ["-d", str(path)]
    result = subprocess.run(
        [*command, str(target)], capture_output=True, text=True, check=False, timeout=120
    )
    if result.returncode == 2:
        return None
    match = KNOWN.search(result.stdout)
    assert match, result.stdout + result.stderr
    return int(match.group(1))


def clamkit_known(paths: list[Path], pua: bool) -> int | None:
    try:
        return load_database(paths, LoadOptions(detect_pua=pua)).signature_count
    except DatabaseError:
        return None


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("target") / "empty.txt"
    path.write_text("clean\n")
    return path


@pytest.fixture(scope="module")
def real_subset(shared_sigs: Path) -> tuple[list[Path], Database, float]:
    """(paths, database, seconds it took) for the real subset and the test signature."""
    paths = [shared_sigs / "real-subset", shared_sigs / "clamav-testsig"]
    started = time.perf_counter()
    database = load_database(paths)
    return paths, database, time.perf_counter() - started


def test_real_subset_count(
    reference_clamscan: str, real_subset: tuple[list[Path], Database, float], target: Path
) -> None:
    paths, database, _ = real_subset
    # main.ldb's first line is a comment: 122,356 lines, 122,355 signatures.
    assert database.signature_count == reference_known(reference_clamscan, paths, target, False)
    assert database.signature_count == 122355


def test_real_subset_loads_fast(real_subset: tuple[list[Path], Database, float]) -> None:
    assert real_subset[2] < REAL_SUBSET_SECONDS


@pytest.mark.parametrize(
    "relative",
    [
        "pe_allmatch/alert-sigs",
        "pe_allmatch/broken-sigs",
        "pe_allmatch/weak-sigs",
        "other",
        "clamav-testsig/clamav.hdb",
    ],
)
def test_shared_signature_sets(
    reference_clamscan: str, shared_sigs: Path, target: Path, relative: str
) -> None:
    paths = [shared_sigs / relative]
    expected = reference_known(reference_clamscan, paths, target, False)
    assert expected is not None
    assert clamkit_known(paths, False) == expected


@pytest.mark.parametrize("pua", [False, True])
@pytest.mark.parametrize("number", range(1, 7))
def test_real_containers(reference_clamscan: str, target: Path, number: int, pua: bool) -> None:
    path = CVD_DIR / f"test-{number}.cvd"
    if not path.is_file():
        pytest.skip(f"shared CVD files not found in {CVD_DIR}")
    expected = reference_known(reference_clamscan, [path], target, pua)
    assert expected is not None
    assert clamkit_known([path], pua) == expected


@pytest.mark.parametrize(("cvd_number", "cld_number"), [(3, 4), (4, 3), (3, 3)])
def test_cvd_and_cld_of_one_database(
    reference_clamscan: str, tmp_path: Path, target: Path, cvd_number: int, cld_number: int
) -> None:
    for number, suffix in ((cvd_number, "cvd"), (cld_number, "cld")):
        source = CVD_DIR / f"test-{number}.cvd"
        if not source.is_file():
            pytest.skip(f"shared CVD files not found in {CVD_DIR}")
        (tmp_path / f"test.{suffix}").write_bytes(source.read_bytes())
    expected = reference_known(reference_clamscan, [tmp_path], target, False)
    assert expected is not None
    assert clamkit_known([tmp_path], False) == expected


# Database directories as {file name: content}; each is compared as a whole.
CASES: dict[str, dict[str, str]] = {
    # hash lines
    "hdb md5": {"x.hdb": f"{MD5}:68:A\n"},
    "hdb sha256 in hdb": {"x.hdb": f"{SHA256}:68:A\n"},
    "hdb upper case": {"x.hdb": f"{MD5.upper()}:68:A\n"},
    "hdb wildcard": {"x.hdb": f"{MD5}:*:A:73\n"},
    "hdb wildcard without flevel": {"x.hdb": f"{MD5}:*:A\n"},
    "hdb wildcard low flevel": {"x.hdb": f"{MD5}:*:A:72\n"},
    "hdb wildcard skipped first": {"x.hdb": f"{MD5}:*:A:1:2\n"},
    "hdb future": {"x.hdb": f"{MD5}:68:A:300\n"},
    "hdb past": {"x.hdb": f"{MD5}:68:A:1:215\n"},
    "hdb empty max": {"x.hdb": f"{MD5}:68:A::\n"},
    "hdb junk flevel": {"x.hdb": f"{MD5}:68:A:x\n"},
    "hdb negative flevel": {"x.hdb": f"{MD5}:68:A:-1\n"},
    "hdb huge max": {"x.hdb": f"{MD5}:68:A:1:99999999999999999999999\n"},
    "hdb size zero": {"x.hdb": f"{MD5}:0:A\n"},
    "hdb size signed": {"x.hdb": f"{MD5}:+68:A\n"},
    "hdb size spaced": {"x.hdb": f"{MD5}: 68:A\n"},
    "hdb size trailing space": {"x.hdb": f"{MD5}:68 :A\n"},
    "hdb size max": {"x.hdb": f"{MD5}:4294967294:A\n"},
    "hdb size too big": {"x.hdb": f"{MD5}:4294967295:A\n"},
    "hdb size hex": {"x.hdb": f"{MD5}:0x44:A\n"},
    "hdb short hash": {"x.hdb": f"{MD5[1:]}:68:A\n"},
    "hdb bad hash skipped": {"x.hdb": "zz:68:A:300\n"},
    "hdb empty name": {"x.hdb": f"{MD5}:68:\n"},
    "hdb too many fields": {"x.hdb": f"{MD5}:68:A:1:2:3\n"},
    "hdb two fields": {"x.hdb": f"{MD5}:68\n"},
    "hdb blank line": {"x.hdb": f"{MD5}:68:A\n\n"},
    "hdb comment only": {"x.hdb": "# nothing\n"},
    "hdb empty file": {"x.hdb": ""},
    "hdb crlf": {"x.hdb": f"{MD5}:68:A\r\n"},
    "fp and sfp": {"x.fp": f"{MD5}:68:A\n", "x.sfp": f"{SHA256}:*:B:73\n"},
    "fp future": {"x.fp": f"{MD5}:68:A:300\n"},
    "hdu without pua": {"x.hdu": "\n"},
    # extended lines
    "ndb": {"x.ndb": f"N:0:*:{EICAR}\n"},
    "ndb flevel": {"x.ndb": f"N:0:*:{EICAR}:1:300\n"},
    "ndb empty max": {"x.ndb": f"N:0:*:{EICAR}::\n"},
    "ndb junk flevel": {"x.ndb": f"N:0:*:{EICAR}:x\n"},
    "ndb spaced flevel": {"x.ndb": f"N:0:*:{EICAR}:  216\n"},
    "ndb bad hex skipped": {"x.ndb": "N:0:*:zz:300\n"},
    "ndb bad hex": {"x.ndb": "N:0:*:zz\n"},
    "ndb target 14": {"x.ndb": f"N:14:*:{EICAR}\n"},
    "ndb target 15": {"x.ndb": "N:15:x:zz\n"},
    "ndb empty target": {"x.ndb": f"N::*:{EICAR}\n"},
    "ndb signed target": {"x.ndb": f"N:+1:*:{EICAR}\n"},
    "ndb empty name": {"x.ndb": f":0:*:{EICAR}\n"},
    "ndb ep on any": {"x.ndb": f"N:0:EP+0:{EICAR}\n"},
    "ndb ep on elf": {"x.ndb": f"N:6:EP+0:{EICAR}\n"},
    "ndb se on pe": {"x.ndb": f"N:1:SE1:{EICAR}\n"},
    "ndb vi on pe": {"x.ndb": f"N:1:VI:{EICAR}\n"},
    "ndb vi on any": {"x.ndb": f"N:0:VI:{EICAR}\n"},
    "ndb macro offset": {"x.ndb": f"N:0:$1:{EICAR}\n"},
    "ndb short on any": {"x.ndb": "N:0:*:5835\n"},
    "ndb short on pe": {"x.ndb": "N:1:*:5835\n"},
    "ndb short on pe at 0": {"x.ndb": "N:1:0:5835\n"},
    "ndb short on html": {"x.ndb": "N:3:*:5835\n"},
    "ndb three fields": {"x.ndb": "N:0:*\n"},
    "sdb is ndb": {"x.sdb": f"N:0:*:{EICAR}\n"},
    "pua names outside pua files": {
        "x.ndb": f"PUA.Win.Tool:0:*:{EICAR}\n",
        "x.hdb": f"{MD5}:68:PUA.Win.Hash\n",
    },
    "pua files": {"x.ndu": f"N:0:*:{EICAR}\n", "x.hdu": f"{MD5}:68:H\n", "x.ldu": "# c\n"},
    # legacy lines
    "db": {"x.db": f"N={EICAR}\n"},
    "db double equals": {"x.db": f"N=={EICAR}\n"},
    "db colon in name": {"x.db": f"N:x={EICAR}\n"},
    "db colon in pattern": {"x.db": f"N={EICAR}:1\n"},
    "db no equals": {"x.db": "N\n"},
    "db short": {"x.db": "N=5835\n"},
    # logical lines
    "ldb": {"x.ldb": f"L;Engine:51-255,Target:0;0;{EICAR}\n"},
    "ldb future with bad subsig": {"x.ldb": "L;Engine:300-400,Target:0;0;zz\n"},
    "ldb target 15": {"x.ldb": f"L;Engine:51-255,Target:15;0;{EICAR}\n"},
    "ldb unknown attribute": {"x.ldb": f"L;Engine:51-255,Target:0,Foo:1;0;{EICAR}\n"},
    "ldb untranslatable pcre": {"x.ldb": f"P;Engine:81-255,Target:0;0&1;{EICAR};0/ab\\Kc/\n"},
    "ldb vi subsignature": {"x.ldb": f"L;Engine:51-255,Target:1;0;VI:{EICAR}\n"},
    "ldb garbage": {"x.ldb": "garbage\n"},
    # ignore lists
    "ign2 drops every format": {
        "a.ign2": "N\nH\nL\nD\n",
        "x.ndb": f"N:0:*:{EICAR}\n",
        "x.hdb": f"{MD5}:68:H\n",
        "x.ldb": "L;Engine:51-255,Target:0;garbage;zz\n",
        "x.db": "D=zz\n",
    },
    "ign old form": {"a.ign": "x.ndb:1:N\n", "x.ndb": f"N:0:*:{EICAR}\n"},
    "ign trailing space": {"a.ign2": "N \n", "x.ndb": f"N:0:*:{EICAR}\n"},
    "ign leading space": {"a.ign2": " N\n", "x.ndb": f"N:0:*:{EICAR}\n"},
    "ign md5 form": {"a.ign2": f"N:{MD5}\n", "x.ndb": f"N:0:*:{EICAR}\n"},
    "ign empty name": {"a.ign2": ":N\n", "x.ndb": f"N:0:*:{EICAR}\n"},
    "ign too many fields": {"a.ign2": "a:b:c:d\n", "x.ndb": f"N:0:*:{EICAR}\n"},
    "ign ignored hash still needs a size": {"a.ign2": "H\n", "x.hdb": "zz:x:H\n"},
    # formats clamkit does not use
    "counted formats": {
        "x.pdb": "H:example.com\n\nH:example.org\n",
        "x.gdb": "# c\nS:P:4d8bef53\n",
        "x.idb": (
            "I:G1:G2:100620a0b05b0307055060b0350a0b0480307051060b8407008402058308058000008104"
            "098109096d020b6b0a046306031800001f040035080000000000\n"
        ),
        "x.cdb": "C:CL_TYPE_ZIP:*:foo:*:*:*:*:*:*\n",
        "x.wdb": "M:a.com:b.com\n",
        "x.cfg": "DOCUMENT:0x0:0:0\n",
    },
    "executable aware": {
        "x.mdb": f"45056:{MD5}:S\n",
        "x.msb": f"45056:{SHA256}:S2\n",
        "x.imp": f"{MD5}:1351:I\n",
        "x.yar": 'rule One { strings: $a = "abc" condition: $a }\n',
    },
    "empty ignore and cfg": {"x.ign2": "", "x.cfg": "", "x.hdb": f"{MD5}:68:A\n"},
    "only unsupported names": {"notes.txt": "x"},
}


@pytest.mark.parametrize("pua", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
def test_edge_cases(
    reference_clamscan: str, tmp_path: Path, target: Path, case: str, pua: bool
) -> None:
    for name, content in CASES[case].items():
        (tmp_path / name).write_bytes(content.encode())
    expected = reference_known(reference_clamscan, [tmp_path], target, pua)
    assert clamkit_known([tmp_path], pua) == expected


def test_ignore_lists_apply_in_path_order(
    reference_clamscan: str, tmp_path: Path, target: Path
) -> None:
    (tmp_path / "sigs").mkdir()
    (tmp_path / "sigs" / "x.ndb").write_text(f"N:0:*:{EICAR}\n")
    (tmp_path / "ign").mkdir()
    (tmp_path / "ign" / "x.ign2").write_text("N\n")
    for order in ([tmp_path / "sigs", tmp_path / "ign"], [tmp_path / "ign", tmp_path / "sigs"]):
        assert clamkit_known(order, False) == reference_known(
            reference_clamscan, order, target, False
        )
