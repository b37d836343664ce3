"""Process life: detaching with a start-up report, the pid file, User, the database's age.

Reference facts used here (clamd 1.4.6): the pid file holds ``PID\\n`` with
mode 0644, a pid file that cannot be written is ``Can't save PID to file
PATH: REASON``, an unknown User is ``Can't get information about user
NAME.``, User is ignored unless started as root, and ``--fail-if-cvd-older-than``
fails with ``Virus database is older than N days!`` judged on the newest
container, a directory without containers passing.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from clamkit.daemon.lifecycle import (
    DIED_DURING_STARTUP,
    LifecycleError,
    ReadyNotice,
    database_age_error,
    drop_privileges,
    remove_pid_file,
    write_pid_file,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------
# pid file


def test_pid_file_content_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "clamd.pid"
    path.write_text("a much longer stale content\n")
    previous = os.umask(0o077)
    try:
        write_pid_file(path)
    finally:
        os.umask(previous)
    assert path.read_text() == f"{os.getpid()}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_pid_file_never_follows_a_link(tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.write_text("precious\n")
    link = tmp_path / "clamd.pid"
    link.symlink_to(target)
    with pytest.raises(LifecycleError) as caught:
        write_pid_file(link)
    assert str(caught.value) == (
        f"Can't save PID to file {link}: Too many levels of symbolic links"
    )
    assert target.read_text() == "precious\n"


@pytest.mark.parametrize("reason", ["No such file or directory", "Is a directory"])
def test_pid_file_errors(tmp_path: Path, reason: str) -> None:
    path = tmp_path / "run" / "clamd.pid"
    if reason == "Is a directory":
        path.mkdir(parents=True)
    with pytest.raises(LifecycleError) as caught:
        write_pid_file(path)
    assert str(caught.value) == f"Can't save PID to file {path}: {reason}"


def test_fifo_is_not_a_pid_file(tmp_path: Path) -> None:
    path = tmp_path / "clamd.pid"
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(LifecycleError, match=r"Not a regular file$"):
            write_pid_file(path)
    finally:
        os.close(reader)


def test_remove_pid_file_only_when_ours(tmp_path: Path) -> None:
    path = tmp_path / "clamd.pid"
    write_pid_file(path)
    assert remove_pid_file(path)
    assert not path.exists()
    assert not remove_pid_file(path)
    path.write_text("1\n")
    assert not remove_pid_file(path)
    assert path.exists()


# ---------------------------------------------------------------------------
# detaching (each case in a child process, since the caller's parent exits)

_DETACH_CHILD = textwrap.dedent(
    """
    import json, os, sys
    from clamkit.daemon.lifecycle import detach

    outcome, report = sys.argv[1], sys.argv[2]
    parent = os.getpid()
    notice = detach()
    facts = {"parent": parent, "pid": os.getpid(), "sid": os.getsid(0), "cwd": os.getcwd(),
             "stdout": os.readlink("/proc/self/fd/1")}
    with open(report, "w") as handle:
        json.dump(facts, handle)
    print("never seen: stdout is /dev/null now")
    if outcome == "ready":
        notice.ready()
        notice.failed("ignored: the first report counts")
    elif outcome == "failed":
        notice.failed("LOCAL: Socket file /x is in use by another process.")
    else:
        os._exit(3)
    """
)


def run_detach(tmp_path: Path, outcome: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    report = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-c", _DETACH_CHILD, outcome, str(report)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=PROJECT_ROOT,
    )
    deadline = time.monotonic() + 10
    while not report.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return result, json.loads(report.read_text())


def test_detach_ready(tmp_path: Path) -> None:
    result, facts = run_detach(tmp_path, "ready")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert facts["pid"] != facts["parent"]
    assert facts["sid"] == facts["pid"]
    assert facts["cwd"] == "/"
    assert facts["stdout"] == "/dev/null"


def test_detach_failure_reaches_the_terminal(tmp_path: Path) -> None:
    result, _ = run_detach(tmp_path, "failed")
    assert result.returncode == 1
    assert result.stderr == "ERROR: LOCAL: Socket file /x is in use by another process.\n"


def test_daemon_dying_silently_fails_the_start(tmp_path: Path) -> None:
    result, _ = run_detach(tmp_path, "dies")
    assert result.returncode == 1
    assert result.stderr == f"ERROR: {DIED_DURING_STARTUP}\n"


def test_foreground_notice_does_nothing() -> None:
    notice = ReadyNotice()
    notice.ready()
    notice.failed("nothing to tell")


# ---------------------------------------------------------------------------
# User


def test_user_is_ignored_unless_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    drop_privileges("no-such-user-anywhere")


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_unknown_user() -> None:
    with pytest.raises(LifecycleError) as caught:
        drop_privileges("no-such-user-anywhere")
    assert str(caught.value) == "Can't get information about user no-such-user-anywhere."


_DROP_CHILD = textwrap.dedent(
    """
    import json, os, sys
    from clamkit.daemon.lifecycle import drop_privileges
    from clamkit.daemon.log import DaemonLog

    log = DaemonLog(sys.argv[2])
    drop_privileges(sys.argv[1], log)
    log.reopen()
    log.info("written as the new user", terminal=False)
    print(json.dumps([os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups()]))
    """
)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_drop_privileges() -> None:
    account = pwd.getpwnam("nobody")
    # pytest's own directories are root's only: the new user could not reach them.
    shared = Path(tempfile.mkdtemp(prefix="clamkit-user-"))
    shared.chmod(0o777)
    log_path = shared / "clamd.log"
    try:
        check_dropped(account, log_path)
    finally:
        shutil.rmtree(shared)


def check_dropped(account: pwd.struct_passwd, log_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _DROP_CHILD, "nobody", str(log_path)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=PROJECT_ROOT,
        check=True,
    )
    uid, euid, gid, egid, groups = json.loads(result.stdout)
    assert (uid, euid, gid, egid) == (account.pw_uid,) * 2 + (account.pw_gid,) * 2
    assert 0 not in groups
    # The log file was handed over, so it could be reopened after the switch.
    assert log_path.stat().st_uid == account.pw_uid
    assert log_path.read_text() == "written as the new user\n"


# ---------------------------------------------------------------------------
# database age


def write_container(path: Path, built: int) -> None:
    stamp = time.strftime("%d %b %Y %H-%M +0000", time.gmtime(built))
    header = f"ClamAV-VDB:{stamp}:6:14:81:{'0' * 32}:signature:builder:{built}".encode()
    path.write_bytes(header.ljust(512, b" "))


def test_database_age(tmp_path: Path) -> None:
    day = 86400
    now = int(time.time())
    write_container(tmp_path / "main.cvd", now - 30 * day)
    assert database_age_error(tmp_path, 1) == "Virus database is older than 1 days!"
    assert database_age_error(tmp_path, 31) is None
    assert database_age_error(tmp_path, 0) is None
    # The newest container decides.
    write_container(tmp_path / "daily.cld", now - day // 2)
    assert database_age_error(tmp_path, 1) is None


def test_database_without_containers_passes(tmp_path: Path) -> None:
    (tmp_path / "local.hdb").write_text("")
    (tmp_path / "broken.cvd").write_bytes(b"not a container")
    assert database_age_error(tmp_path, 1) is None
    assert database_age_error(tmp_path / "missing", 1) is None


def test_pid_file_hard_linked_elsewhere_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path = tmp_path / "clamd.pid"
    os.link(victim, path)
    with pytest.raises(LifecycleError, match=r"Has other hard links$"):
        write_pid_file(path)
    assert victim.read_text() == "precious\n"
