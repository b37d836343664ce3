"""clamkit's clamd against hostile clients and hostile files.

Checked here, each against the reference where it has an answer: FILDES is
refused over TCP; a path the daemon may not read gets the reference's error
and says no more than it (whether a file exists behind a closed directory
stays unknown); the socket has its configured mode as soon as it answers;
VirusEvent runs nothing an attacker names in a file name; archive member
names (``..``, absolute paths) never reach the file system.

Covered elsewhere, not repeated: the no-window socket mode and group on
creation (test_listeners.py), VirusEvent's signature-name quoting
(test_virusevent.py), clamdscan's --move/--copy against links and ``..``
(engineer L's tests of clamkit/cli/clamdscan.py).
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import time
import zipfile
from pathlib import Path

from tests.daemons import EICAR, PROJECT_ROOT, exchange, send, start_reference_clamd
from tests.test_hardening_harness import clamkit_daemon, start_without_file_permissions


def test_fildes_over_tcp_is_refused_as_by_the_reference(tmp_path: Path) -> None:
    requests = [[b"zFILDES\0", b"x"], [b"nFILDES\n"], [b"FILDES"]]
    reference = start_reference_clamd(tmp_path / "ref")
    try:
        expected = [exchange(reference.tcp_address, r, timeout=2).data for r in requests]
    finally:
        reference.stop()
    with clamkit_daemon(tmp_path / "ours") as daemon:
        found = [exchange(daemon.tcp_address, r, timeout=2).data for r in requests]
    assert found == expected
    assert all(b"ERROR" in reply or reply == b"" for reply in found)


def _unreadable_tree(base: Path) -> list[Path]:
    """Paths behind a closed directory and a file of another user's with mode 0600."""
    closed = base / "closed"
    closed.mkdir()
    (closed / "exists.txt").write_bytes(EICAR)
    private = base / "private.txt"
    private.write_bytes(EICAR)
    for path in (closed / "exists.txt", private, closed):
        os.chown(path, 65534, 65534)
    closed.chmod(0o700)
    private.chmod(0o600)
    return [closed / "exists.txt", closed / "missing.txt", closed, private, base / "missing"]


def _ask_all(address: Path, paths: list[Path]) -> list[bytes]:
    commands = ("SCAN", "CONTSCAN", "MULTISCAN", "ALLMATCHSCAN")
    return [
        send(address, f"z{command} {path}\0".encode()) for path in paths for command in commands
    ]


def test_unreadable_paths_answer_as_the_reference_and_leak_nothing(tmp_path: Path) -> None:
    base = tmp_path / "tree"
    base.mkdir()
    paths = _unreadable_tree(base)
    with start_without_file_permissions(tmp_path / "ref", reference=True) as reference:
        expected = _ask_all(reference.unix_path, paths)
    with start_without_file_permissions(tmp_path / "ours") as ours:
        found = _ask_all(ours.unix_path, paths)
    assert found == expected
    # A file behind the closed directory and a missing one look the same.
    assert [reply.replace(b"exists", b"missing") for reply in found[0:4]] == found[4:8]
    assert not any(b"FOUND" in reply for reply in found)


def test_socket_mode_is_in_place_when_the_daemon_answers(tmp_path: Path) -> None:
    with clamkit_daemon(tmp_path, "LocalSocketMode 600") as daemon:
        mode = stat.S_IMODE(daemon.unix_path.stat().st_mode)
    assert mode == 0o600


def test_virus_event_runs_nothing_from_a_file_name(tmp_path: Path) -> None:
    record = tmp_path / "event.txt"
    event = f'printf "%s|%s\\n" "$CLAM_VIRUSEVENT_FILENAME" %v >> {record}'
    # Relative targets: the command would run in the daemon's working directory.
    hostile_names = [
        "$(touch pwned-dollar).com",
        "`touch pwned-backtick`;x.com",
        "a'b\"c %v %f && touch pwned-and.com",
        "line\nbreak|touch pwned-pipe.com",
    ]
    directory = tmp_path / "hostile"
    directory.mkdir()
    for name in hostile_names:
        (directory / name).write_bytes(EICAR)
    with clamkit_daemon(tmp_path, f"VirusEvent {event}") as daemon:
        for name in hostile_names:
            send(daemon.unix_path, f"zSCAN {directory / name}\0".encode())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (
            not record.exists() or record.read_text().count("|") < len(hostile_names)
        ):
            time.sleep(0.1)
    for where in (PROJECT_ROOT, directory, tmp_path):
        assert not [path for path in where.iterdir() if path.name.startswith("pwned")]
    text = record.read_text()
    for name in hostile_names:
        assert f"{directory / name}|Eicar-Test-Signature.UNOFFICIAL\n" in text


def _archives(target: Path) -> dict[str, bytes]:
    """A tar and a zip whose members would land on ``target`` if names were followed."""
    names = [f"../../../../../../..{target}-dots", f"{target}-absolute", "a/../../escape"]
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as archive:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = len(EICAR)
            archive.addfile(info, io.BytesIO(EICAR))
    zip_bytes = io.BytesIO()
    with zipfile.ZipFile(zip_bytes, "w") as archive:
        for name in names:
            archive.writestr(zipfile.ZipInfo(name), EICAR)
    return {"hostile.tar": tar_bytes.getvalue(), "hostile.zip": zip_bytes.getvalue()}


def test_archive_member_names_never_touch_the_file_system(tmp_path: Path) -> None:
    target = tmp_path / "planted"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    files = []
    for name, data in _archives(target).items():
        files.append(tmp_path / name)
        files[-1].write_bytes(data)
    with clamkit_daemon(tmp_path, f"TemporaryDirectory {scratch}") as daemon:
        replies = [send(daemon.unix_path, f"zALLMATCHSCAN {path}\0".encode()) for path in files]
    for path, reply in zip(files, replies, strict=True):
        assert reply.startswith(f"{path}: Eicar-Test-Signature.UNOFFICIAL FOUND\0".encode())
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("planted")) == []
    assert list(scratch.iterdir()) == []
    assert not (tmp_path.parent / "escape").exists()
