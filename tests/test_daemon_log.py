"""The daemon's log: the reference's line shapes, where each level goes, and the file's safety.

The expected shapes were read from clamd 1.4.6's own log and terminal:
``Tue Nov 24 19:05:53 2026 -> ERROR: text`` in the file, ``ERROR: Tue Nov
24 19:05:53 2026 -> text`` on stderr, and a full log renamed to
``NAME-YYYYmmdd_HHMMSS.log`` (with a two-line notice first when LogRotate is off).
"""

from __future__ import annotations

import os
import re
import stat
import syslog
import time
from pathlib import Path

import pytest

from clamkit.config.parser import parse_config
from clamkit.daemon.log import (
    FORCED_ROTATION,
    LOG_FILE_MODE,
    UNLIMITED_SIZE,
    DaemonLog,
    LogError,
    rotated_name,
)

STAMP = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} -> "


def read(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_plain_lines_and_level_prefixes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "clamd.log"
    log = DaemonLog(str(path))
    log.info("+++ Started", terminal=False)
    log.info("Self checking every 600 seconds.")
    log.warning("careful")
    log.error("broken")
    log.close()
    assert read(path) == [
        "+++ Started",
        "Self checking every 600 seconds.",
        "WARNING: careful",
        "ERROR: broken",
    ]
    shown = capsys.readouterr()
    # Log-only notes stay off the terminal; warnings and errors go to stderr.
    assert shown.out == "Self checking every 600 seconds.\n"
    assert shown.err == "WARNING: careful\nERROR: broken\n"


def test_log_time_goes_before_the_level_in_the_file_and_after_it_on_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "clamd.log"
    log = DaemonLog(str(path), timestamps=True)
    log.info("hello")
    log.error("broken")
    log.close()
    first, second = read(path)
    assert re.fullmatch(STAMP + "hello", first)
    assert re.fullmatch(STAMP + "ERROR: broken", second)
    shown = capsys.readouterr()
    assert re.fullmatch(STAMP + "hello\n", shown.out)
    assert re.fullmatch("ERROR: " + STAMP + "broken\n", shown.err)


def test_verbose_and_debug_only_when_enabled(tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.log"
    chatty = tmp_path / "chatty.log"
    for path, enabled in ((quiet, False), (chatty, True)):
        log = DaemonLog(str(path), verbose=enabled, debug=enabled)
        log.verbose("Listening daemon: PID: 1")
        log.debug("a debug note")
        log.close()
    assert read(quiet) == []
    assert read(chatty) == ["Listening daemon: PID: 1", "a debug note"]


def test_without_a_file_messages_only_reach_the_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = DaemonLog(None)
    log.info("to stdout")
    log.info("nowhere", terminal=False)
    log.close()
    assert capsys.readouterr().out == "to stdout\n"


def test_new_file_mode_and_append(tmp_path: Path) -> None:
    path = tmp_path / "clamd.log"
    path.write_text("earlier\n")
    os.chmod(path, 0o600)
    DaemonLog(str(path)).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    fresh = tmp_path / "fresh.log"
    log = DaemonLog(str(fresh))
    log.info("x", terminal=False)
    log.close()
    assert stat.S_IMODE(fresh.stat().st_mode) == LOG_FILE_MODE & ~_umask()
    DaemonLog(str(path)).info("later", terminal=False)
    assert read(path) == ["earlier", "later"]


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def test_relative_path_is_refused() -> None:
    with pytest.raises(LogError, match=r"^LogFile requires full path\.$") as caught:
        DaemonLog("clamd.log")
    assert not caught.value.logger_failed


def test_planted_symlink_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    link = tmp_path / "clamd.log"
    link.symlink_to(target)
    with pytest.raises(LogError) as caught:
        DaemonLog(str(link))
    assert str(caught.value) == (
        f"Failed to open log file {link}: Too many levels of symbolic links"
    )
    assert caught.value.logger_failed
    assert not target.exists()


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_non_regular_files_are_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "clamd.log"
    if kind == "directory":
        path.mkdir()
        reason = "Is a directory"
    else:
        os.mkfifo(path)
        # Opening a FIFO nobody reads must fail at once, not hang.
        reason = "No such device or address"
    with pytest.raises(LogError, match=f"^Failed to open log file {path}: {reason}$"):
        DaemonLog(str(path))


def test_fifo_with_a_reader_is_still_not_a_log(tmp_path: Path) -> None:
    path = tmp_path / "clamd.log"
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(LogError, match="Not a regular file"):
            DaemonLog(str(path))
    finally:
        os.close(reader)


@pytest.mark.parametrize(("name", "stream"), [("/dev/stdout", "out"), ("/dev/stderr", "err")])
def test_standard_streams_still_work(
    name: str, stream: str, capfd: pytest.CaptureFixture[str]
) -> None:
    log = DaemonLog(name)
    log.info("+++ Started", terminal=False)
    log.info("shown once")
    log.close()
    captured = capfd.readouterr()
    text = captured.out if stream == "out" else captured.err
    assert text.count("shown once") == 1
    assert "+++ Started" in text


def test_second_writer_is_locked_out(tmp_path: Path) -> None:
    path = tmp_path / "clamd.log"
    first = DaemonLog(str(path))
    try:
        with pytest.raises(LogError) as caught:
            DaemonLog(str(path))
        assert str(caught.value) == (
            f"Failed to lock the log file {path}: Resource temporarily unavailable"
        )
        DaemonLog(str(path), lock=False).close()
    finally:
        first.close()
    DaemonLog(str(path)).close()


@pytest.mark.parametrize("rotate", [False, True])
def test_full_log_is_rotated(tmp_path: Path, rotate: bool) -> None:
    path = tmp_path / "clamd.log"
    log = DaemonLog(str(path), max_size=100, rotate=rotate)
    # 28-byte lines: the fifth finds the file past 100 bytes.
    for number in range(5):
        log.info(f"line {number} " + "x" * 20, terminal=False)
    log.close()
    rotated = sorted(tmp_path.glob("clamd-*.log"))
    assert len(rotated) == 1
    assert re.fullmatch(r"clamd-\d{8}_\d{6}\.log", rotated[0].name)
    old = read(rotated[0])
    assert old[:4] == [f"line {n} " + "x" * 20 for n in range(4)]
    notice = ["Log size = 112, max = 100", FORCED_ROTATION]
    assert old[4:] == ([] if rotate else notice)
    assert read(path) == ["line 4 " + "x" * 20]


def test_no_size_limit_is_reported_as_the_largest_size() -> None:
    assert DaemonLog(None, max_size=0).max_size == UNLIMITED_SIZE
    assert DaemonLog(None, max_size=4096).max_size == 4096


def test_rotated_names() -> None:
    when = 1_800_000_000.0
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(when))
    assert rotated_name("/var/log/clamav/clamd.log", when) == f"/var/log/clamav/clamd-{stamp}.log"
    assert rotated_name("/var/log/my.clamd.txt", when) == f"/var/log/my.clamd-{stamp}.log"
    # The reference loses the name here (/var/log/-STAMP.log); we keep it.
    assert rotated_name("/var/log/clamd", when) == f"/var/log/clamd-{stamp}.log"


def test_reopen_follows_an_outside_rotation(tmp_path: Path) -> None:
    path = tmp_path / "clamd.log"
    log = DaemonLog(str(path))
    log.info("before", terminal=False)
    path.rename(tmp_path / "clamd.log.1")
    log.info("still to the moved file", terminal=False)
    log.reopen()
    log.info("after", terminal=False)
    log.close()
    assert read(tmp_path / "clamd.log.1") == ["before", "still to the moved file"]
    assert read(path) == ["after"]


def test_reopen_failure_is_reported_not_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "logs"
    directory.mkdir()
    log = DaemonLog(str(directory / "clamd.log"))
    (directory / "clamd.log").unlink()
    directory.rmdir()
    log.reopen()
    log.info("kept on the terminal")
    log.close()
    shown = capsys.readouterr()
    assert "ERROR: Failed to open log file" in shown.err
    assert "kept on the terminal" in shown.out


def test_from_config(tmp_path: Path) -> None:
    path = tmp_path / "clamd.log"
    config = parse_config(
        f"LogFile {path}\nLogTime yes\nLogVerbose yes\nLogFileMaxSize 2M\nLogRotate yes\n",
        "clamd.conf",
    )
    log = DaemonLog.from_config(config)
    log.verbose("verbose")
    log.close()
    assert log.max_size == 2 * 1024 * 1024
    assert re.fullmatch(STAMP + "verbose", read(path)[0])


def test_unknown_facility_is_refused_with_the_reference_message() -> None:
    config = parse_config("LogSyslog yes\nLogFacility log_mail\n", "clamd.conf")
    with pytest.raises(LogError, match=r"^LogFacility: log_mail: No such facility\.$"):
        DaemonLog.from_config(config)
    # Without LogSyslog the facility is not looked at.
    DaemonLog.from_config(parse_config("LogFacility LOG_FOO\n", "clamd.conf")).close()


def test_syslog_gets_every_message_with_its_priority(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, tuple[object, ...]]] = []
    for name in ("openlog", "syslog", "closelog"):
        monkeypatch.setattr(syslog, name, lambda *args, name=name: calls.append((name, args)))
    config = parse_config("LogSyslog yes\nLogFacility LOG_MAIL\n", "clamd.conf")
    log = DaemonLog.from_config(config)
    log.info("+++ Started", terminal=False)
    log.warning("careful")
    log.error("broken")
    log.debug("not enabled")
    log.close()
    assert calls == [
        ("openlog", ("clamd", syslog.LOG_PID, syslog.LOG_MAIL)),
        ("syslog", (syslog.LOG_INFO, "+++ Started")),
        ("syslog", (syslog.LOG_WARNING, "WARNING: careful")),
        ("syslog", (syslog.LOG_ERR, "ERROR: broken")),
        ("closelog", ()),
    ]


def test_hard_linked_log_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("")
    os.link(victim, tmp_path / "clamd.log")
    with pytest.raises(LogError, match=r"Has other hard links$"):
        DaemonLog(str(tmp_path / "clamd.log"))
