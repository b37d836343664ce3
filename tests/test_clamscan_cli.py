"""The clamscan command in-process: options, output lines, streams, summary, exit codes.

What the reference prints in each case was observed on ClamAV 1.4.6 (see
tests/test_clamscan_reference.py, which checks the same cases against it
side by side); here the expected lines are spelled out.
"""

from __future__ import annotations

import io
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from clamkit import __version__
from clamkit.cli import clamscan as cli
from clamkit.cli import getopt
from clamkit.cli.output import (
    SUMMARY_TITLE,
    ScanStats,
    Timing,
    format_summary,
)
from clamkit.database.loader import SKIP_ICON_GROUP

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_NAME = "Win.Test.EICAR_HDB-1"
# Two body signatures that both match EICAR, for --allmatch.
BODY_SIGNATURES = "Test.Body.One:0:*:58354f2150\nTest.Body.Two:0:*:4549434152\n"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        """stdout without the summary block."""
        lines = self.out.splitlines()
        if SUMMARY_TITLE in lines:
            lines = lines[: lines.index(SUMMARY_TITLE) - 1]
        return lines

    def summary(self) -> dict[str, str]:
        lines = self.out.splitlines()
        block = lines[lines.index(SUMMARY_TITLE) + 1 :]
        return dict(line.split(": ", 1) for line in block)


Run = Callable[..., Result]


@pytest.fixture
def clamscan(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run the command in-process; ``stdin`` is what "-" reads (None: closed)."""

    def run(*argv: str, stdin: bytes | None = b"") -> Result:
        monkeypatch.setattr(sys, "argv", ["clamscan"])
        wrapped = None if stdin is None else io.TextIOWrapper(io.BytesIO(stdin))
        monkeypatch.setattr(sys, "stdin", wrapped)
        capsys.readouterr()
        code = cli.run(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A plain database: EICAR's MD5 (names get .UNOFFICIAL) and two body signatures."""
    directory = tmp_path / "db"
    directory.mkdir()
    source = Path(__file__).resolve().parent.parent / "sigs" / "source"
    (directory / "test.hdb").write_text((source / "daily.hdb").read_text())
    (directory / "test.ndb").write_text(BODY_SIGNATURES)
    return str(directory)


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small tree, made the working directory so paths print relative."""
    root = tmp_path / "files"
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "eicar.com").write_bytes(EICAR)
    (root / "clean.txt").write_text("hello\n")
    (root / "empty.txt").touch()
    (root / "dir" / "clean.txt").write_text("clean\n")
    (root / "dir" / "sub" / "eicar.com").write_bytes(EICAR)
    (root / "dir" / "link.txt").symlink_to("../clean.txt")
    os.mkfifo(root / "dir" / "fifo")
    (root / "fifo").symlink_to("dir/fifo")
    (root / "dangling").symlink_to("nowhere")
    (root / "clean-link.txt").symlink_to("clean.txt")
    monkeypatch.chdir(root)
    return root


def found(path: str, name: str = EICAR_NAME) -> str:
    return f"{path}: {name}.UNOFFICIAL FOUND"


# ---------------------------------------------------------------------------
# Help and version


def test_help_lists_every_option(clamscan: Run) -> None:
    for flag in ("-h", "--help", "--hel"):
        result = clamscan(flag)
        assert result.code == 0
        assert result.err == ""
        assert "clamscan [options] [file/directory/-]" in result.out
        for option in ("--database=FILE/DIR", "-d FILE/DIR", "--recursive[=yes/no(*)]"):
            assert option in result.out
        for option in ("--infected", "--allmatch", "--no-summary", "--stdout", "--detect-pua"):
            assert option in result.out
        for option in ("--max-filesize=#n", "--max-scansize=#n"):
            assert option in result.out


def test_version_shows_the_bundled_database(clamscan: Run) -> None:
    result = clamscan("-V")
    assert (result.code, result.err) == (0, "")
    assert result.out == f"clamkit {__version__}/1/{time.ctime(1763942400)}\n"


def test_version_reads_the_daily_container_of_the_database_directory(
    clamscan: Run, shared_sigs: Path, tmp_path: Path
) -> None:
    (tmp_path / "daily.cvd").write_bytes((shared_sigs.parent / "cvd" / "test-6.cvd").read_bytes())
    result = clamscan("--version", "-d", str(tmp_path))
    assert result.out == f"clamkit {__version__}/6/{time.ctime(1624412045)}\n"


def test_version_without_a_daily_container(clamscan: Run, db: str) -> None:
    assert clamscan("-V", "-d", db).out == f"clamkit {__version__}\n"
    assert clamscan("-V", "-d", f"{db}/test.hdb").out == f"clamkit {__version__}\n"


# ---------------------------------------------------------------------------
# Command-line syntax

UNKNOWN = ("ERROR: Unknown option passed", "ERROR: Can't parse command line options")
MISSING = (
    "ERROR: Incomplete option passed (missing argument)",
    "ERROR: Can't parse command line options",
)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--bogus"], ("clamscan: unrecognized option `--bogus'", *UNKNOWN)),
        (["-x", "f"], ("clamscan: illegal option -- x", *UNKNOWN)),
        (["-ix", "f"], ("clamscan: illegal option -- x", *UNKNOWN)),
        (["-r=yes", "f"], ("clamscan: illegal option -- =", *UNKNOWN)),
        (["--d", "x"], ("clamscan: option `--d' is ambiguous", *UNKNOWN)),
        (["-d"], ("clamscan: option requires an argument -- d", *MISSING)),
        (["--database"], ("clamscan: option `--database' requires an argument", *MISSING)),
        (["--data"], ("clamscan: option `--database' requires an argument", *MISSING)),
        (
            ["--database="],
            (
                "ERROR: Option --database (-d) requires a non-empty string argument",
                "ERROR: Can't parse command line options",
            ),
        ),
        (
            ["-d", ""],
            (
                "ERROR: Option --database (-d) requires a non-empty string argument",
                "ERROR: Can't parse command line options",
            ),
        ),
        (
            ["--recursive=maybe"],
            (
                "ERROR: Incorrect argument format for option --recursive (-r)",
                "ERROR: Can't parse command line options",
            ),
        ),
        (
            ["--no-summary=on"],
            (
                "ERROR: Incorrect argument format for option --no-summary",
                "ERROR: Can't parse command line options",
            ),
        ),
    ],
)
def test_usage_errors_use_getopt_and_clamav_wording(
    clamscan: Run, argv: list[str], expected: tuple[str, ...]
) -> None:
    result = clamscan(*argv)
    assert result.code == 2
    assert result.out == ""
    assert result.err.splitlines() == list(expected)


def test_usage_errors_name_the_program_as_invoked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["/opt/bin/clamscan"])
    assert cli.run(["--bogus"]) == 2
    assert capsys.readouterr().err.startswith("/opt/bin/clamscan: unrecognized option `--bogus'\n")


SPECS = getopt.option_specs(cli.typer.main.get_command(cli.app))


@pytest.mark.parametrize(
    ("argv", "tokens"),
    [
        (["-ri", "a"], ["--recursive", "--infected", "--", "a"]),
        (["-rdX", "a"], ["--recursive", "--database=X", "--", "a"]),
        (["-d", "-x", "a"], ["--database=-x", "--", "a"]),
        (["a", "-r", "b"], ["--recursive", "--", "a", "b"]),
        (["--recur", "--no-sum", "a"], ["--recursive", "--no-summary", "--", "a"]),
        (["--data", "X", "--data=Y"], ["--database=X", "--database=Y", "--"]),
        (["--recursive=YES", "--infected=0", "--stdout=true"], ["--recursive", "--stdout", "--"]),
        (["-", "--", "-r", "--x"], ["--", "-", "-r", "--x"]),
        # A switch on by default is turned off by its typer negation.
        (["--scan-pe=no", "--scan-pdf", "--alert-broken=no"], ["--no-scan-pe", "--scan-pdf", "--"]),
        ([], ["--"]),
    ],
)
def test_canonical_argv(argv: list[str], tokens: list[str]) -> None:
    assert getopt.canonical_argv(argv, SPECS, "clamscan") == tokens


@pytest.mark.parametrize(
    ("value", "size"),
    [("5068", 5068), ("2k", 2048), ("3M", 3 * 1024**2), ("1G", 1024**3), ("0", sys.maxsize)],
)
def test_sizes(value: str, size: int) -> None:
    assert cli._parse_number("--max-filesize", value, sizes=True) == size


@pytest.mark.parametrize(
    ("value", "number"), [("0", 0), ("17", 17), ("4294967295", 2**32 - 1), ("4294967297", 1)]
)
def test_whole_numbers_wrap_at_32_bits(value: str, number: int) -> None:
    assert cli._parse_number("--max-files", value, sizes=False) == number


def test_engine_options_are_scan_options_fields_with_their_defaults() -> None:
    from clamkit.engine.options import DEFAULT_OPTIONS

    for option, field, kind, _ in cli.ENGINE_OPTIONS:
        default = getattr(DEFAULT_OPTIONS, field)
        if kind in (cli._Kind.ON, cli._Kind.OFF):
            assert default is (kind is cli._Kind.ON), option
        else:
            assert isinstance(default, int) and not isinstance(default, bool), option


def test_help_and_version_do_not_load_the_engine() -> None:
    import subprocess

    code = "import sys, clamkit.cli.clamscan; print('clamkit.engine' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent)),
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout == "False\n"


@pytest.mark.parametrize("value", ["", "-1", "1T", "M", "1.5M", "١٢"])
def test_bad_sizes(clamscan: Run, value: str) -> None:
    result = clamscan(f"--max-filesize={value}", "x")
    assert result.code == 2
    assert result.err.splitlines() == [
        "ERROR: Incorrect argument format for option --max-filesize",
        "ERROR: Can't parse command line options",
    ]


def test_size_limits(clamscan: Run, db: str, tmp_path: Path) -> None:
    padded = tmp_path / "padded.com"
    padded.write_bytes(EICAR + bytes(5000))
    over = clamscan("-d", db, "--no-summary", "--max-filesize=5067", str(padded))
    assert (over.code, over.out) == (0, f"{padded}: OK\n")
    at = clamscan("-d", db, "--no-summary", "--max-filesize", "5068", str(padded))
    assert at.out == found(str(padded), "Test.Body.One") + "\n"
    unlimited = clamscan("-d", db, "--no-summary", "--max-filesize=0", str(padded))
    assert unlimited.code == 1
    scan_limited = clamscan("-d", db, "--no-summary", "--max-scansize=1K", str(padded))
    assert scan_limited.out == f"{padded}: OK\n"


def test_switch_values(clamscan: Run, db: str, files: Path) -> None:
    recursive = clamscan("-d", db, "--no-summary=yes", "--recursive=1", "dir")
    assert sorted(recursive.out.splitlines()) == sorted(
        [
            "dir/clean.txt: OK",
            "dir/link.txt: Symbolic link",
            found("dir/sub/eicar.com", "Test.Body.One"),
        ]
    )
    flat = clamscan("-d", db, "--no-summary", "--recursive=no", "dir")
    assert sorted(flat.out.splitlines()) == ["dir/clean.txt: OK", "dir/link.txt: Symbolic link"]


# ---------------------------------------------------------------------------
# Scanning


def test_clean_and_infected_files(clamscan: Run, db: str, files: Path) -> None:
    result = clamscan("-d", db, "clean.txt", "eicar.com")
    assert result.code == 1
    assert result.lines == ["clean.txt: OK", found("eicar.com", "Test.Body.One")]
    assert result.err == ""
    summary = result.summary()
    assert summary["Known viruses"] == "3"
    assert summary["Engine version"] == __version__
    assert (summary["Scanned files"], summary["Infected files"]) == ("2", "1")
    assert "Total errors" not in summary


def test_clean_files_exit_0(clamscan: Run, db: str, files: Path) -> None:
    result = clamscan("-d", db, "--no-summary", "clean.txt", "clean-link.txt")
    assert (result.code, result.out, result.err) == (0, "clean.txt: OK\nclean-link.txt: OK\n", "")


def test_allmatch_reports_every_signature(clamscan: Run, db: str, files: Path) -> None:
    result = clamscan("-d", db, "-z", "eicar.com")
    assert result.code == 1
    assert sorted(result.lines) == sorted(
        [
            found("eicar.com", "Test.Body.One"),
            found("eicar.com", "Test.Body.Two"),
            found("eicar.com"),
        ]
    )
    assert result.summary()["Infected files"] == "1"


def test_directory_without_recursion_scans_only_its_files(
    clamscan: Run, db: str, files: Path
) -> None:
    result = clamscan("-d", db, "dir/")
    # The FIFO and the subdirectory are passed over silently; the symlink is named.
    assert sorted(result.lines) == ["dir/clean.txt: OK", "dir/link.txt: Symbolic link"]
    assert result.code == 0
    summary = result.summary()
    assert (summary["Scanned directories"], summary["Scanned files"]) == ("1", "1")


def test_recursion(clamscan: Run, db: str, files: Path) -> None:
    result = clamscan("-d", db, "-r", "dir//")
    assert sorted(result.lines) == sorted(
        [
            "dir/clean.txt: OK",
            "dir/link.txt: Symbolic link",
            found("dir/sub/eicar.com", "Test.Body.One"),
        ]
    )
    assert result.code == 1
    assert result.summary()["Scanned directories"] == "2"


def test_recursion_stops_fifteen_levels_down(clamscan: Run, db: str, tmp_path: Path) -> None:
    level = tmp_path / "deep"
    for depth in range(17):
        level.mkdir()
        (level / "eicar.com").write_bytes(EICAR)
        level = level / f"d{depth + 1}"
    result = clamscan("-d", db, "-r", "--no-summary", str(tmp_path / "deep"))
    assert len(result.out.splitlines()) == 15
    assert f"/d{14}/eicar.com" in result.out
    assert "/d15/" not in result.out


def test_empty_file_and_dangling_symlink(clamscan: Run, db: str, files: Path) -> None:
    result = clamscan("-d", db, "empty.txt", "dangling")
    assert result.code == 0
    assert result.lines == ["empty.txt: Empty file"]
    assert result.summary()["Scanned files"] == "0"
    assert result.err == ""


def test_missing_path(clamscan: Run, db: str, files: Path) -> None:
    result = clamscan("-d", db, "missing", "clean.txt/")
    assert result.code == 2
    assert result.err.splitlines() == [
        "missing: No such file or directory",
        "WARNING: missing: Can't access file",
        "clean.txt/: Not a directory",
        "WARNING: clean.txt/: Can't access file",
    ]
    # Not counted as errors, but the exit code says something went wrong.
    assert "Total errors" not in result.summary()


def test_special_file_on_the_command_line(clamscan: Run, db: str, files: Path) -> None:
    result = clamscan("-d", db, "--no-summary", "dir/fifo", "clean.txt")
    assert (result.code, result.out) == (2, "clean.txt: OK\n")
    assert result.err == "WARNING: dir/fifo: Not supported file type\n"


def test_command_line_symlinks_are_followed_to_files_and_directories_only(
    clamscan: Run, db: str, files: Path
) -> None:
    (files / "dlink").symlink_to("dir")
    result = clamscan("-d", db, "--no-summary", "clean-link.txt", "fifo", "dlink")
    assert result.code == 0
    assert result.out.splitlines()[:2] == ["clean-link.txt: OK", "fifo: Symbolic link"]
    assert sorted(result.out.splitlines()[2:]) == [
        "dlink/clean.txt: OK",
        "dlink/link.txt: Symbolic link",
    ]


def test_found_wins_over_trouble(clamscan: Run, db: str, files: Path) -> None:
    assert clamscan("-d", db, "missing", "eicar.com").code == 1


def test_infected_only(clamscan: Run, db: str, files: Path) -> None:
    result = clamscan("-d", db, "-i", "-r", "clean.txt", "empty.txt", "dir", "missing")
    assert result.lines == [found("dir/sub/eicar.com", "Test.Body.One")]
    assert "WARNING: missing: Can't access file" in result.err
    assert result.summary()["Scanned files"] == "3"


def test_stdout_moves_warnings_but_not_system_errors(clamscan: Run, db: str, files: Path) -> None:
    result = clamscan("-d", db, "--stdout", "--no-summary", "missing", "dir/fifo")
    assert result.out.splitlines() == [
        "WARNING: missing: Can't access file",
        "WARNING: dir/fifo: Not supported file type",
    ]
    assert result.err == "missing: No such file or directory\n"


def test_stdin(clamscan: Run, db: str) -> None:
    result = clamscan("-d", db, "--no-summary", "-", "-", stdin=EICAR)
    # The second "-" finds standard input at its end, like the reference.
    assert result.out.splitlines() == [found("stdin", "Test.Body.One"), "stdin: OK"]
    assert result.code == 1


def test_closed_stdin_is_a_read_error(clamscan: Run, db: str) -> None:
    result = clamscan("-d", db, "-", stdin=None)
    assert result.lines == ["stdin: Can't read file ERROR"]
    assert result.summary()["Total errors"] == "1"
    assert result.code == 2


def test_no_path_scans_the_working_directory(clamscan: Run, db: str, files: Path) -> None:
    result = clamscan("-d", db, "--no-summary")
    cwd = os.getcwd()
    assert f"{cwd}/clean.txt: OK" in result.out.splitlines()
    assert f"{cwd}/dir/clean.txt: OK" not in result.out


def test_access_denied(
    clamscan: Run, db: str, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.os, "access", lambda path, mode: not str(path).endswith("clean.txt"))
    result = clamscan("-d", db, "clean.txt", "eicar.com")
    assert result.lines == ["clean.txt: Access denied", found("eicar.com", "Test.Body.One")]
    summary = result.summary()
    assert (summary["Scanned files"], summary["Total errors"]) == ("1", "1")
    assert result.code == 1


def test_unopenable_file_and_directory(
    clamscan: Run, db: str, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refusing(real: Callable[..., object], victim: str) -> Callable[..., object]:
        def call(path: str, *args: object) -> object:
            if path == victim:
                raise PermissionError(13, "Permission denied", path)
            return real(path, *args)

        return call

    monkeypatch.setattr(cli, "open", refusing(open, "clean.txt"), raising=False)
    monkeypatch.setattr(cli.os, "scandir", refusing(os.scandir, "dir"))
    result = clamscan("-d", db, "clean.txt", "dir")
    assert result.lines == ["dir: Can't open directory."]
    assert result.err == "WARNING: Can't open file clean.txt: Permission denied\n"
    summary = result.summary()
    assert (summary["Scanned directories"], summary["Total errors"]) == ("0", "2")
    assert result.code == 2


def test_read_error_during_the_scan(
    clamscan: Run, db: str, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clamkit.engine.compiler import Engine

    def fail(*args: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(Engine, "scan_file", fail)
    monkeypatch.setattr(Engine, "scan_fileobj", fail)
    result = clamscan("-d", db, "clean.txt")
    assert result.lines == ["clean.txt: Can't read file ERROR"]
    assert result.code == 2


def test_proc_is_excluded(clamscan: Run, db: str) -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("no /proc on this system")
    result = clamscan("-d", db, "--no-summary", "/proc/self/status")
    assert (result.code, result.out) == (0, "/proc/self/status: Excluded (/proc)\n")


def test_database_error(clamscan: Run, tmp_path: Path, files: Path) -> None:
    missing = tmp_path / "missing.hdb"
    result = clamscan("-d", str(missing), "clean.txt")
    assert result.code == 2
    # The loader's diagnostics framed as the reference frames its library's.
    assert result.err.splitlines() == [
        f"LibClamAV Error: cl_load(): No such file or directory: {missing}",
        "ERROR: Can't get file status",
    ]
    assert result.lines == []
    assert result.summary()["Known viruses"] == "0"
    quiet = clamscan("-d", str(missing), "--no-summary", "clean.txt")
    assert (quiet.code, quiet.out) == (2, "")


def test_bundled_database_keeps_official_names(clamscan: Run, files: Path) -> None:
    result = clamscan("--no-summary", "eicar.com")
    assert (result.code, result.out) == (1, f"eicar.com: {EICAR_NAME} FOUND\n")


def test_bundled_database_finds_the_clamav_test_file(clamscan: Run, testfiles: Path) -> None:
    path = str(testfiles / "clam.exe")
    result = clamscan("--no-summary", path)
    assert result.out == f"{path}: ClamAV-Test-File FOUND\n"


def test_summary_counts_data_in_whole_blocks_per_file(
    clamscan: Run, db: str, tmp_path: Path
) -> None:
    for name, size in (("a", 5000), ("b", 300_000), ("c", 4095)):
        (tmp_path / name).write_bytes(b"\x01" * size)
    result = clamscan("-d", db, str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "c"))
    # 1 + 73 + 0 blocks of 4 KiB.
    assert result.summary()["Data read"].startswith("0.29 MB (ratio ")


def test_summary_block_shape(clamscan: Run, db: str, files: Path) -> None:
    lines = clamscan("-d", db, "clean.txt").out.splitlines()
    assert lines[1:3] == ["", SUMMARY_TITLE]
    assert [line.split(":")[0] for line in lines[3:]] == [
        "Known viruses",
        "Engine version",
        "Scanned directories",
        "Scanned files",
        "Infected files",
        "Data scanned",
        "Data read",
        "Time",
        "Start Date",
        "End Date",
    ]
    assert re.fullmatch(r"Time: \d+\.\d{3} sec \(0 m \d+ s\)", lines[-3])
    assert re.fullmatch(r"Start Date: \d{4}:\d\d:\d\d \d\d:\d\d:\d\d", lines[-2])
    assert re.fullmatch(r"End Date:   \d{4}:\d\d:\d\d \d\d:\d\d:\d\d", lines[-1])


def test_module_entry_point(tmp_path: Path) -> None:
    import subprocess

    (tmp_path / "eicar.com").write_bytes(EICAR)
    completed = subprocess.run(
        [sys.executable, "-m", "clamkit.cli.clamscan", "--no-summary", "eicar.com"],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert (completed.returncode, completed.stdout) == (1, f"eicar.com: {EICAR_NAME} FOUND\n")
    assert completed.stderr == ""


# ---------------------------------------------------------------------------
# The summary and the exit code on their own


def _summary(stats: ScanStats, elapsed: float = 0.0123) -> list[str]:
    return format_summary(stats, 7, "9.9", Timing(0.0, 0.0, elapsed))


def test_summary_total_errors_only_when_there_are_some() -> None:
    assert not any(line.startswith("Total errors") for line in _summary(ScanStats()))
    assert "Total errors: 3" in _summary(ScanStats(errors=3))


def test_summary_figures() -> None:
    stats = ScanStats(directories=2, files=5, infected=1, blocks_scanned=512, blocks_read=256)
    lines = _summary(stats, elapsed=65.4321)
    assert lines[2:7] == [
        "Known viruses: 7",
        "Engine version: 9.9",
        "Scanned directories: 2",
        "Scanned files: 5",
        "Infected files: 1",
    ]
    assert lines[7:10] == [
        "Data scanned: 2.00 MB",
        "Data read: 1.00 MB (ratio 2.00:1)",
        "Time: 65.432 sec (1 m 5 s)",
    ]
    assert "Data read: 0.00 MB (ratio 0.00:1)" in _summary(ScanStats(blocks_scanned=3))


@pytest.mark.parametrize(
    ("stats", "code"),
    [
        (ScanStats(), 0),
        (ScanStats(infected=1, errors=2, trouble=True), 1),
        (ScanStats(errors=1), 2),
        (ScanStats(trouble=True), 2),
    ],
)
def test_exit_code(stats: ScanStats, code: int) -> None:
    assert stats.exit_code == code


def test_debug_shows_what_the_load_did(clamscan: Run, db: str, tmp_path: Path) -> None:
    (Path(db) / "exe.mdb").write_text("512:0123456789abcdef0123456789abcdef:Section.Hash\n")
    # Icon groups are a feature clamkit skips, and --debug says so.
    (Path(db) / "icon.ldb").write_text(
        "Icon.Sig;Engine:51-255,Target:1,IconGroup1:grp;0;41424344454647\n"
    )
    clean = tmp_path / "clean.txt"
    clean.write_text("nothing here\n")
    result = clamscan("--debug", "--no-summary", "-d", db, str(clean))
    assert result.code == 0
    assert result.lines == [f"{clean}: OK"]
    debug = [line for line in result.err.splitlines() if line.startswith("LibClamAV debug: ")]
    assert any(line.endswith("signatures (hdb)") and "test.hdb" in line for line in debug)
    assert any(line.endswith("exe.mdb loaded: 1 signatures (mdb)") for line in debug)
    assert f"LibClamAV debug:   skipped 1: {SKIP_ICON_GROUP}" in debug
    assert any(line.startswith("LibClamAV debug: signatures in use: ") for line in debug)
    # Without --debug the load is silent but for the warning the reference lacks.
    quiet = clamscan("--no-summary", "-d", db, str(clean))
    assert "LibClamAV debug" not in quiet.err


# ---------------------------------------------------------------------------
# --exclude/--include patterns in the reference's POSIX dialect


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        (r"[[:digit:]]\.com$", "/x/a1.com", True),
        (r"[[:digit:]]\.com$", "/x/ab.com", False),
        (r"a[^[:alpha:]]", "/x/a1", True),
        (r"\d", "/x/d.com", True),
        (r"\d", "/x/1.com", False),
        (r"[\d]", "/x/back\\slash", True),
        (r"\<b", "/x/ab", False),
        (r"\<b", "/x/b", True),
        (r"b\>", "/x/ab.c", True),
        ("^/a/x/", "/a/x", True),
        ("[[:nope:]]", "/x", False),
        ("[a", "/x/a", False),
        ("a**", "/x/a", False),
        ("\\", "/x/\\", False),
        ("()", "/x", True),
    ],
)
def test_posix_patterns(pattern: str, name: str, matches: bool) -> None:
    from clamkit.cli.posix_regex import patterns

    (compiled,) = patterns([pattern])
    assert compiled.matches(name) is matches
