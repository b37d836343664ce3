"""The ``clamd`` command line, compared with ClamAV 1.4.6's /usr/sbin/clamd.

Each failing command line or configuration below is given to both; the
exit status and both streams must agree (the reference names itself by its
path in getopt's messages, ours by ``clamd``).  The cases chosen fail
before the reference would load a database, so it never starts serving.
Observed on the reference and kept here: usage errors exit 1, not 2 as in
clamscan; a log file that cannot be opened is reported on *stdout*, then
``Can't initialize the internal logger`` on stderr; ``-V`` reads the
configuration (its DatabaseDirectory names the database version), so a
bad configuration fails ``-V`` too, while ``-h`` never reads it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clamkit import defaults
from clamkit.cli import clamd
from clamkit.config.parser import Config
from clamkit.daemon.log import DaemonLog
from clamkit.defaults import bundled_database_dir

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_CLAMD = "/usr/sbin/clamd"
SHARED_CVD = PROJECT_ROOT.parent / "shared" / "cvd" / "test-6.cvd"


@dataclass(frozen=True)
class Outcome:
    status: int
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def reference() -> str:
    if not os.access(REFERENCE_CLAMD, os.X_OK):
        pytest.skip(
            f"reference clamd not found at {REFERENCE_CLAMD} (apt-get install clamav-daemon)"
        )
    return REFERENCE_CLAMD


def run_reference(path: str, args: list[str]) -> Outcome:
    result = subprocess.run(
        [path, *args], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
    )
    # getopt names the program as it was invoked.
    stderr = result.stderr.replace(f"{path}: ", "clamd: ")
    return Outcome(result.returncode, result.stdout, stderr)


def run_ours(args: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    status = clamd.run(args)
    captured = capsys.readouterr()
    return Outcome(status, captured.out, captured.err)


@pytest.fixture(autouse=True)
def program_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["clamd"])


# ---------------------------------------------------------------------------
# Against the reference

USAGE_ERRORS = [
    ["--bogus"],
    ["-x"],
    ["-c"],
    ["--config-file"],
    ["--log"],
    ["-l"],
    ["--log="],
    ["--pid="],
    ["--fail-if-cvd-older-than"],
    ["--fail-if-cvd-older-than=abc"],
    ["--fail-if-cvd-older-than="],
    ["--fail-if-cvd-older-than=-5"],
    ["--foreground=maybe"],
    ["-F", "--unknown-thing", "-V"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=" ".join)
def test_usage_errors_match(
    reference: str, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_ours(args, capsys) == run_reference(reference, args)


def test_help_lists_the_same_options(reference: str, capsys: pytest.CaptureFixture[str]) -> None:
    ours = run_ours(["-h"], capsys)
    theirs = run_reference(reference, ["-h"])
    assert (ours.status, ours.stderr) == (theirs.status, theirs.stderr) == (0, "")

    def options(text: str) -> list[tuple[str, str]]:
        rows = re.findall(r"^    (--[a-z-]+)\S*\s+(-[A-Za-z])?", text, re.MULTILINE)
        return [(long, short) for long, short in rows]

    assert options(ours.stdout) == options(theirs.stdout)
    assert "    clamd [options]\n" in ours.stdout
    # The help never reads the configuration.
    assert run_ours(["-h", "-c", "/nonexistent"], capsys).status == 0


@pytest.fixture
def dated_database(tmp_path: Path) -> Path:
    if not SHARED_CVD.is_file():
        pytest.skip(f"shared test container not found at {SHARED_CVD}")
    database = tmp_path / "db"
    database.mkdir()
    shutil.copy(SHARED_CVD, database / "daily.cvd")
    return database


def test_version_names_the_configured_database(
    reference: str, dated_database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "clamd.conf"
    config.write_text(f"DatabaseDirectory {dated_database}\nLocalSocket {tmp_path / 's'}\n")
    for args in (["-V", "-c", str(config)], ["-V", f"--datadir={dated_database}"]):
        ours = run_ours(args, capsys)
        theirs = run_reference(reference, args)
        assert ours.status == theirs.status == 0
        # ClamAV 1.4.6/6/Wed Jun 23 01:34:05 2021: the same database part.
        assert theirs.stdout.startswith("ClamAV ")
        assert ours.stdout.startswith("clamkit ")
        assert ours.stdout.partition("/")[2] == theirs.stdout.partition("/")[2] != ""


CONFIG_FAILURES = {
    "missing file": None,
    "unknown option": "Bogus yes\n",
    "relative log file": "LogFile clamd.log\nLocalSocket {tmp}/s\n",
    "log file is a link": "LogFile {tmp}/link.log\nLocalSocket {tmp}/s\n",
    "log file is a directory": "LogFile {tmp}\nLocalSocket {tmp}/s\n",
    "log file in a missing directory": "LogFile {tmp}/none/x.log\nLocalSocket {tmp}/s\n",
    "unknown facility": "LogSyslog yes\nLogFacility LOG_FOO\nLocalSocket {tmp}/s\n",
    "no socket": "LogTime no\n",
}


@pytest.mark.parametrize("case", CONFIG_FAILURES)
@pytest.mark.parametrize("version", [False, True])
def test_configuration_failures_match(
    reference: str, case: str, version: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = CONFIG_FAILURES[case]
    config = tmp_path / "clamd.conf"
    if text is not None:
        # A database that does not exist: should a case get past its error,
        # the reference stops at the load instead of serving.
        config.write_text(
            text.format(tmp=tmp_path) + f"DatabaseDirectory {tmp_path}/nodb\nForeground yes\n"
        )
    (tmp_path / "link.log").symlink_to(tmp_path / "elsewhere.log")
    args = ["-c", str(config)] + (["-V"] if version else [])
    theirs = run_reference(reference, args)
    if version and theirs.status == 0:
        # Only file errors stop -V; the rest is checked when the daemon starts.
        assert run_ours(args, capsys).status == 0
        return
    assert run_ours(args, capsys) == theirs
    assert not (tmp_path / "elsewhere.log").exists()


# ---------------------------------------------------------------------------
# Start-up, with a stand-in for the server


@dataclass
class Started:
    config: Config
    log_lines: list[str]


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Started]]:
    started: list[Started] = []

    def run_daemon(config: Config, log: DaemonLog) -> int:
        path = config.text("LogFile")
        lines = Path(path).read_text().splitlines() if path else []
        started.append(Started(config, lines))
        return 7

    module = types.ModuleType("clamkit.daemon.server")
    module.run_daemon = run_daemon  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "clamkit.daemon.server", module)
    yield started


@pytest.mark.parametrize("foreground", [True, False])
def test_built_in_defaults_without_a_configuration_file(
    fake_server: list[Started],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    foreground: bool,
) -> None:
    monkeypatch.setattr(clamd, "DEFAULT_CONFIG_PATH", str(tmp_path / "absent.conf"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    outcome = run_ours(["--foreground"] if foreground else [], capsys)
    assert outcome.status == 7
    [started] = fake_server
    socket_path = tmp_path / "clamkit" / "clamd.sock"
    assert started.config.text("LocalSocket") == str(socket_path)
    assert started.config.text("DatabaseDirectory") == str(bundled_database_dir())
    # Foreground is left as the defaults have it: --foreground still decides.
    assert started.config.flag("Foreground") == foreground
    assert str(socket_path) in outcome.stdout
    assert (tmp_path / "clamkit").stat().st_mode & 0o777 == 0o700


def test_default_socket_outside_a_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(defaults, "FALLBACK_RUNTIME_ROOT", tmp_path)
    private = tmp_path / f"clamkit-{os.getuid()}"
    private.mkdir(mode=0o755)
    assert defaults.default_local_socket() == private / "clamd.sock"
    assert private.stat().st_mode & 0o777 == 0o700


def test_default_socket_directory_must_be_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "clamkit").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(defaults.UnsafeDefaultsError, match="not a directory owned by"):
        defaults.default_local_socket()
    if os.geteuid() == 0:
        (tmp_path / "clamkit").unlink()
        (tmp_path / "clamkit").mkdir()
        os.chown(tmp_path / "clamkit", 65534, 65534)
        with pytest.raises(defaults.UnsafeDefaultsError):
            defaults.default_local_socket()


def test_command_line_overrides_and_start_up_notes(
    fake_server: list[Started],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "clamd.conf"
    config.write_text("LocalSocket s\nLogFile /nonexistent/ignored.log\n")
    log = tmp_path / "clamd.log"
    args = ["-c", str(config), "-F", "--debug", "-l", str(log), "--datadir=db", "-p", "x.pid"]
    assert run_ours(args, capsys).status == 7
    [started] = fake_server
    assert started.config.flag("Foreground") and started.config.flag("Debug")
    assert started.config.text("LogFile") == str(log)
    # Relative paths keep meaning the directory clamd was started in.
    assert started.config.text("DatabaseDirectory") == str(tmp_path / "db")
    assert started.config.text("PidFile") == str(tmp_path / "x.pid")
    assert re.fullmatch(
        r"\+\+\+ Started at \w{3} \w{3} [ \d]\d [\d:]{8} \d{4}", started.log_lines[0]
    )
    assert started.log_lines[1:] == [
        "Received 0 file descriptor(s) from systemd.",
        f"clamd daemon 0.1.0 (OS: {os.uname().sysname}, ARCH: {os.uname().machine}, "
        f"CPU: {os.uname().machine})",
        "Log file size limited to 1048576 bytes.",
    ]
    assert started.config.text("LocalSocket") == str(tmp_path / "s")


def test_old_database_is_refused(
    fake_server: list[Started],
    dated_database: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "clamd.conf"
    config.write_text(f"LocalSocket {tmp_path}/s\nDatabaseDirectory {dated_database}\n")
    # Observed on the reference with the same container: exit 1, this line.
    outcome = run_ours(["-c", str(config), "--fail-if-cvd-older-than=1"], capsys)
    assert outcome == Outcome(1, "", "ERROR: Virus database is older than 1 days!\n")
    assert fake_server == []
    run_ours(["-c", str(config), "--fail-if-cvd-older-than=100000"], capsys)
    assert len(fake_server) == 1


def test_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "clamkit.cli.clamd", "--bogus"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "clamd: unrecognized option `--bogus'"
