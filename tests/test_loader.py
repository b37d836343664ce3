"""The loader on small databases written for each rule (the reference comparison is elsewhere)."""

from __future__ import annotations

import gc
import hashlib
import io
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clamkit.database import loader
from clamkit.database.loader import (
    DatabaseError,
    LoadedFile,
    LoadOptions,
    is_database_name,
    load_database,
)
from clamkit.signatures.ignore import Skip

MD5 = "44d88612fea8a8f36de82e1278abb02f"
SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
EICAR = "58354f2150254041505b345c505a58353428505e"
HDB = f"{MD5}:68:Eicar-Hash\n"
NDB = f"Eicar-Body:0:*:{EICAR}\n"
LDB = f"Eicar-Logic;Engine:51-255,Target:0;0;{EICAR}\n"
DB = f"Eicar-Legacy={EICAR}\n"


def write(directory: Path, **files: str) -> Path:
    """Create ``name_ext=content`` files (``main_hdb`` -> main.hdb)."""
    directory.mkdir(parents=True, exist_ok=True)
    for key, content in files.items():
        name, _, extension = key.rpartition("_")
        (directory / f"{name}.{extension}").write_text(content)
    return directory


def container(path: Path, members: dict[str, str], version: int = 1) -> Path:
    """A .cld: plain tar, correct .info (MD5 is not checked for .cld)."""
    encoded = {name: text.encode() for name, text in members.items()}
    info = [f"ClamAV-VDB:01 Jan 2025 00-00 +0000:{version}:{len(members)}:81:X:X:test:1"]
    info += [f"{n}:{len(c)}:{hashlib.sha256(c).hexdigest()}" for n, c in encoded.items()]
    encoded = {"test.info": ("\n".join(info) + "\n").encode(), **encoded}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, content in encoded.items():
            entry = tarfile.TarInfo(name)
            entry.size = len(content)
            archive.addfile(entry, io.BytesIO(content))
    header = f"ClamAV-VDB:01 Jan 2025 00-00 +0000:{version}:{len(members)}:81:X:X:test:1"
    path.write_bytes(header.encode().ljust(512) + buffer.getvalue())
    return path


def names(database: loader.Database) -> set[str]:
    everything = (
        database.hash_signatures,
        database.allow_list,
        database.body_signatures,
        database.logical_signatures,
        database.section_hashes,
        database.import_hashes,
    )
    return {signature.name for group in everything for signature in group}


# -- what gets loaded --------------------------------------------------------------


def test_every_parsed_format_from_a_directory(tmp_path: Path) -> None:
    write(tmp_path, a_hdb=HDB, b_ndb=NDB, c_ldb=LDB, d_db=DB, e_fp=f"{SHA256}:68:Clean\n")
    database = load_database([tmp_path])
    assert names(database) == {
        "Eicar-Hash.UNOFFICIAL",
        "Eicar-Body.UNOFFICIAL",
        "Eicar-Logic.UNOFFICIAL",
        "Eicar-Legacy.UNOFFICIAL",
        "Clean.UNOFFICIAL",
    }
    assert database.signature_count == 5
    assert database.report.counts == {"hdb": 1, "ndb": 1, "ldb": 1, "db": 1, "fp": 1}
    assert database.report.files[0] == LoadedFile(str(tmp_path / "a.hdb"), None, "hdb", 1)
    assert database.report.warnings == ()
    assert database.report.skipped == {}


def test_container_members_keep_official_names(tmp_path: Path) -> None:
    path = container(tmp_path / "daily.cld", {"daily.hdb": HDB, "daily.ndb": NDB})
    database = load_database([path])
    assert names(database) == {"Eicar-Hash", "Eicar-Body"}
    assert database.report.cvd_headers[0].version == 1
    assert [(f.path, f.member) for f in database.report.files] == [
        (str(path), "daily.hdb"),
        (str(path), "daily.ndb"),
    ]


def test_single_files_and_upper_case_extensions(tmp_path: Path) -> None:
    write(tmp_path, a_HDB=HDB, b_Ndb=NDB)
    assert load_database([tmp_path / "a.HDB", tmp_path / "b.Ndb"]).signature_count == 2
    assert load_database([tmp_path]).signature_count == 2


@pytest.mark.parametrize("enabled", [True, False])
def test_the_garbage_collector_is_paused_and_restored(tmp_path: Path, enabled: bool) -> None:
    states = []

    def load_file(_: object, unit: loader.LoadUnit) -> None:
        states.append(gc.isenabled())
        if unit.path.name == "broken.hdb":
            raise DatabaseError("broken", loader.MALFORMED)

    for name in ("fine.hdb", "broken.hdb"):
        (tmp_path / name).touch()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loader._Loader, "load_file", load_file)
        (gc.enable if enabled else gc.disable)()
        try:
            load_database([tmp_path / "fine.hdb"])
            with pytest.raises(DatabaseError):
                load_database([tmp_path / "broken.hdb"])
            states.append(gc.isenabled())
        finally:
            gc.enable()
    assert states == [False, False, enabled]


def test_what_is_built_while_paused_goes_to_the_oldest_generation() -> None:
    with loader.collector_paused():
        built = [[index] for index in range(1000)]
    oldest = {id(item) for item in gc.get_objects(generation=2)}
    assert all(id(item) in oldest for item in built)


def test_directories_are_not_searched_recursively(tmp_path: Path) -> None:
    write(tmp_path / "inner", a_hdb=HDB)
    write(tmp_path, notes_txt="hello")
    with pytest.raises(DatabaseError) as refused:
        load_database([tmp_path])
    assert refused.value.details == (
        f"cli_loaddbdir: No supported database files found in {tmp_path}",
    )
    assert refused.value.summary == loader.CANT_OPEN


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="No such file or directory") as refused:
        load_database([tmp_path / "nowhere"])
    assert refused.value.details == (f"cl_load(): No such file or directory: {tmp_path}/nowhere",)
    assert refused.value.summary == loader.CANT_STAT


def test_unknown_extension_on_the_command_line_is_a_warning(tmp_path: Path) -> None:
    write(tmp_path, notes_txt="x")
    database = load_database([tmp_path / "notes.txt"])
    assert database.signature_count == 0
    assert database.report.warnings == (
        f"cli_load: unknown extension - skipping {tmp_path / 'notes.txt'}",
    )


def test_info_only_inside_containers(tmp_path: Path) -> None:
    write(tmp_path, test_info="x\n", a_hdb=HDB)
    assert load_database([tmp_path]).signature_count == 1  # not a directory's database
    with pytest.raises(DatabaseError, match="only be loaded from within"):
        load_database([tmp_path / "test.info"])


@pytest.mark.parametrize(
    "name", ["a.hdb", "a.CVD", "a.ign2", "a.cfg", "a.pdb", "a.yara", "a.sdb", "a.cud"]
)
def test_database_names(name: str) -> None:
    assert is_database_name(name)


@pytest.mark.parametrize("name", ["a.info", "a.txt", "hdb", "a.hdb.bak", "COPYING"])
def test_not_database_names(name: str) -> None:
    assert not is_database_name(name)


# -- drops ----------------------------------------------------------------------


def test_pua_databases_need_detect_pua(tmp_path: Path) -> None:
    write(tmp_path, a_hdu=HDB, b_ndu=NDB + "# comment\n", c_hdb=f"{MD5}:68:PUA.Win.Tool\n")
    plain = load_database([tmp_path])
    assert names(plain) == {"PUA.Win.Tool.UNOFFICIAL"}  # a PUA name alone changes nothing
    assert plain.report.skipped == {"PUA": 2}
    assert plain.signature_count == 1
    pua = load_database([tmp_path], LoadOptions(detect_pua=True))
    assert "Eicar-Hash.UNOFFICIAL" in names(pua)
    assert pua.signature_count == 3


def test_pua_files_are_not_read_without_detect_pua(tmp_path: Path) -> None:
    write(tmp_path, a_hdu="\n", b_hdb=HDB)
    assert load_database([tmp_path]).signature_count == 1
    with pytest.raises(DatabaseError, match="line 1"):
        load_database([tmp_path], LoadOptions(detect_pua=True))


def test_flevel_ranges(tmp_path: Path) -> None:
    write(
        tmp_path,
        a_hdb=f"{MD5}:68:Future:300\n{MD5}:68:Past:1:100\n{MD5}:68:Now:216:216\n",
        b_ndb="Future-Body:0:*:zz:300\n",
        c_ldb="Future-Logic;Engine:300-400,Target:0;0;zz\n",
    )
    database = load_database([tmp_path])
    assert names(database) == {"Now.UNOFFICIAL"}
    assert database.report.skipped == {Skip.FLEVEL.value: 4}
    assert database.signature_count == 1
    later = load_database([tmp_path / "a.hdb"], LoadOptions(functionality_level=300))
    assert names(later) == {"Future.UNOFFICIAL"}


def test_unknown_targets_are_dropped(tmp_path: Path) -> None:
    write(tmp_path, a_ndb=f"N:15:*:{EICAR}\n", b_ldb=f"L;Engine:51-255,Target:15;0;{EICAR}\n")
    database = load_database([tmp_path])
    assert database.signature_count == 0
    assert database.report.skipped == {Skip.TARGET.value: 2}


def test_ignore_lists_in_a_directory_apply_to_every_file(tmp_path: Path) -> None:
    # zzz.ign2 sorts last but is loaded first, as the reference does.
    write(
        tmp_path,
        a_hdb=HDB + "zz:68:Broken-But-Ignored\n",
        b_ndb=NDB,
        c_ldb=LDB,
        d_db=DB,
        zzz_ign2="Eicar-Hash\nEicar-Body\nEicar-Logic\nBroken-But-Ignored\n",
        zzz_ign="x.db:1:Eicar-Legacy\n",
    )
    database = load_database([tmp_path])
    assert database.signature_count == 0
    assert database.report.skipped == {Skip.IGNORED.value: 5}


def test_ignore_lists_apply_only_to_what_follows(tmp_path: Path) -> None:
    write(tmp_path / "sigs", a_ndb=NDB)
    write(tmp_path / "ign", a_ign2="Eicar-Body\n")
    assert load_database([tmp_path / "sigs", tmp_path / "ign"]).signature_count == 1
    assert load_database([tmp_path / "ign", tmp_path / "sigs"]).signature_count == 0


def test_ignore_lists_inside_a_container_come_first(tmp_path: Path) -> None:
    path = container(tmp_path / "t.cld", {"t.ndb": NDB, "t.ign2": "Eicar-Body\n"})
    assert load_database([path]).signature_count == 0


def test_legacy_double_equals_is_dropped(tmp_path: Path) -> None:
    write(tmp_path, a_db=f"N=={EICAR}\n" + DB)
    database = load_database([tmp_path])
    assert database.signature_count == 1
    assert database.report.skipped == {Skip.LEGACY_DOUBLE_EQUALS.value: 1}


# -- formats clamkit does not use ------------------------------------------------------


def test_executable_aware_formats_warn_and_count(tmp_path: Path) -> None:
    write(
        tmp_path,
        a_mdb=f"45056:{MD5}:Section\n# comment\n",
        b_msb=f"45056:{SHA256}:Section2\n",
        c_imp=f"{MD5}:1351:Import\n",
        d_yar='rule One { strings: $a = "x" condition: $a }\nrule Two { condition: true }\n',
        e_hdb=HDB,
    )
    database = load_database([tmp_path])
    # Checked on the reference: the hashes load; both YARA rules are refused
    # (a 1-byte string, no strings at all) with its warnings and not counted.
    assert names(database) == {
        "Eicar-Hash.UNOFFICIAL",
        "Section.UNOFFICIAL",
        "Section2.UNOFFICIAL",
        "Import.UNOFFICIAL",
    }
    assert database.signature_count == 4
    assert database.report.reference_only == 0
    assert database.report.warnings == (
        "load_oneyara: string is too short YARA.One",
        "load_oneyara: clamav cannot support 1 input strings, skipping YARA.One",
        "load_oneyara: yara rule contains no supported strings, skipping YARA.Two",
    )


def test_other_formats_are_tolerated(tmp_path: Path) -> None:
    write(
        tmp_path,
        a_pdb="H:example.com\n\n# c\nH:example.org\n",
        b_wdb="M:a.com:b.com\n",
        c_cfg="DOCUMENT:0x0:0:0\n",
        d_ftm="0:0:cafebabe:Java class:CL_TYPE_ANY:CL_TYPE_JAVA\n",
        e_cdb="Test.CDB:CL_TYPE_ZIP:*:foo:*:*:*:*:*:*\n",
    )
    database = load_database([tmp_path])
    # The reference counts .pdb and .cdb lines, not .wdb, .cfg or .ftm ones.
    assert database.signature_count == 3
    assert database.report.skipped["unsupported feature: .wdb database"] == 1
    assert database.report.warnings == ()


def test_unsigned_bytecode_warns_like_the_reference(tmp_path: Path) -> None:
    write(tmp_path, a_cbc="ClamBC...\n")
    assert load_database([tmp_path]).report.warnings == loader._UNSIGNED_BYTECODE_WARNINGS


def test_untranslatable_pcre_is_skipped_but_counted(tmp_path: Path) -> None:
    write(tmp_path, a_ldb=f"P;Engine:81-255,Target:0;0&1;{EICAR};0/ab\\Kc/\n")
    database = load_database([tmp_path])
    assert database.logical_signatures == ()
    assert database.report.skipped == {loader.SKIP_PCRE: 1}
    assert database.signature_count == 1


def test_offsets_without_a_model_are_skipped_but_counted(tmp_path: Path) -> None:
    write(tmp_path, a_ndb=f"V:0:$1:{EICAR}\n")
    database = load_database([tmp_path])
    assert database.report.skipped == {"unsupported feature: macro group offset ($n)": 1}
    assert database.signature_count == 1


# -- errors -----------------------------------------------------------------------


def test_malformed_line_names_file_line_and_problem(tmp_path: Path) -> None:
    write(tmp_path, a_hdb=f"# comment\n{MD5}:68:Fine\n{MD5}:x:Broken\n")
    path = tmp_path / "a.hdb"
    with pytest.raises(DatabaseError) as refused:
        load_database([path])
    error = refused.value
    assert str(error) == f"{path}: line 3: Invalid value for the size field: 'x'"
    assert error.details == (
        "Invalid value for the size field: 'x'",
        "Problem parsing database at line 3",
        f"Can't load {path}: Malformed database",
    )
    assert error.summary == loader.MALFORMED
    with pytest.raises(DatabaseError) as from_directory:
        load_database([tmp_path])
    assert from_directory.value.details[-1] == f"cli_loaddbdir: error loading database {path}"


def test_malformed_hash_has_the_reference_summary(tmp_path: Path) -> None:
    write(tmp_path, a_hdb=f"{MD5}0:68:A\n")
    with pytest.raises(DatabaseError) as refused:
        load_database([tmp_path / "a.hdb"])
    assert refused.value.summary == loader.INVALID_ARGUMENT


@pytest.mark.parametrize("extension", ["hdb", "fp", "ndb", "db", "ldb", "mdb"])
def test_empty_files_are_refused(tmp_path: Path, extension: str) -> None:
    (tmp_path / f"a.{extension}").write_bytes(b"")
    with pytest.raises(DatabaseError, match="Empty database file"):
        load_database([tmp_path])


@pytest.mark.parametrize("extension", ["ign", "ign2", "pdb", "wdb", "cfg"])
def test_empty_files_accepted(tmp_path: Path, extension: str) -> None:
    (tmp_path / f"a.{extension}").write_bytes(b"")
    assert load_database([tmp_path]).signature_count == 0


@pytest.mark.parametrize("extension", ["hdb", "ndb", "db", "ldb", "ign2"])
def test_blank_lines_are_refused(tmp_path: Path, extension: str) -> None:
    (tmp_path / f"a.{extension}").write_text("# comment\n\n")
    with pytest.raises(DatabaseError, match="line 2"):
        load_database([tmp_path])


def test_comments_and_crlf(tmp_path: Path) -> None:
    (tmp_path / "a.hdb").write_bytes(f"# c\r\n{MD5}:68:A\r\n".encode())
    assert names(load_database([tmp_path])) == {"A.UNOFFICIAL"}


def test_bytes_that_are_not_utf8_survive(tmp_path: Path) -> None:
    (tmp_path / "a.hdb").write_bytes(f"{MD5}:68:Caf\xe9\n".encode("latin-1"))
    (signature,) = load_database([tmp_path]).hash_signatures
    assert signature.name.encode("utf-8", "surrogateescape") == b"Caf\xe9.UNOFFICIAL"


def test_error_inside_a_container(tmp_path: Path) -> None:
    path = container(tmp_path / "t.cld", {"t.hdb": f"{MD5}:x:A\n"})
    with pytest.raises(DatabaseError) as refused:
        load_database([path])
    assert str(refused.value) == f"{path}:t.hdb: line 1: Invalid value for the size field: 'x'"
    assert refused.value.details[-2:] == (
        "Can't load t.hdb: Malformed database",
        f"Can't load {path}: Malformed database",
    )


def test_broken_container(tmp_path: Path) -> None:
    path = tmp_path / "t.cvd"
    path.write_bytes(b"not a container")
    with pytest.raises(DatabaseError) as refused:
        load_database([path])
    assert refused.value.summary == "Broken or not a CVD file"
    assert refused.value.details == (
        "Can't read CVD header",
        f"Can't load {path}: Broken or not a CVD file",
    )


def test_newer_of_cvd_and_cld_is_loaded(tmp_path: Path) -> None:
    container(tmp_path / "daily.cvd", {"daily.hdb": f"{MD5}:68:Old\n"}, version=3)
    container(tmp_path / "daily.cld", {"daily.hdb": f"{MD5}:68:New\n"}, version=4)
    database = load_database([tmp_path])
    assert names(database) == {"New"}
    (warning,) = database.report.warnings
    assert warning.endswith(
        f"The {tmp_path / 'daily.cvd'} database is older and will not be loaded, "
        "you should manually remove it from the database directory."
    )


# Text near the formats' syntax, so that lines get past the first checks.
FUZZ_ALPHABET = "0123456789abcdefxz:;,*=-+{}()[]|!?/\\$# \t\rEPSLVI\u00e9"


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    extension=st.sampled_from(["hdb", "fp", "ndb", "db", "ldb", "ign2", "mdb", "yar", "cld"]),
    text=st.text(FUZZ_ALPHABET, max_size=120),
)
def test_any_input_loads_or_fails_cleanly(tmp_path: Path, extension: str, text: str) -> None:
    path = tmp_path / f"fuzz.{extension}"
    path.write_bytes(text.encode("utf-8"))
    try:
        load_database([path], LoadOptions(detect_pua=True))
    except DatabaseError as error:
        assert error.details and error.summary
