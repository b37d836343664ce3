"""--move/--copy/--remove (clamkit/cli/quarantine.py, shared by clamscan and
clamdscan) against links, swaps and ``..`` (issue 8).

The reference acts on a file's real path and says so; it was probed for
both commands (tests/test_clamscan_options.py compares clamscan's lines side
by side).  The races are made deterministic: the swap happens inside a
wrapper around the system call the action makes next, after the
quarantine directory or the source was opened, so no timing is involved.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from clamkit.cli import clamdscan, quarantine
from clamkit.cli.quarantine import Action, SetupError, identity
from tests.daemons import RunningDaemon, start_reference_clamd

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


class Lines:
    """A Reporter that keeps what it is told."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.errors: list[str] = []

    def note(self, line: str) -> None:
        self.notes.append(line)

    def error(self, text: str) -> None:
        self.errors.append(text)


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """An infected file, a quarantine, and a precious file outside both."""
    paths = {
        "src": tmp_path / "src",
        "q": tmp_path / "q",
        "outside": tmp_path / "outside",
    }
    for directory in paths.values():
        directory.mkdir()
    paths["bad"] = paths["src"] / "bad.com"
    paths["bad"].write_bytes(EICAR)
    paths["precious"] = paths["outside"] / "precious"
    paths["precious"].write_text("precious\n")
    return paths


def _action(kind: str, q: Path, lines: Lines) -> Action:
    move = str(q) if kind == "move" else None
    copy = str(q) if kind == "copy" else None
    action = Action.create(kind == "remove", move, copy, lines)
    assert action is not None
    return action


def _wrap(
    monkeypatch: pytest.MonkeyPatch, name: str, before: Callable[[], None], at: int = 1
) -> None:
    """Run ``before`` just ahead of the ``at``-th ``os.<name>`` call from now."""
    real = getattr(os, name)
    calls = []

    def wrapper(*args: object, **kwargs: object) -> object:
        calls.append(name)
        if len(calls) == at:
            before()
        return real(*args, **kwargs)

    monkeypatch.setattr(quarantine.os, name, wrapper)


def test_clamdscan_uses_the_shared_action() -> None:
    assert clamdscan._Action is Action
    assert clamdscan._SetupError is SetupError


# ---------------------------------------------------------------------------
# A symlinked source: the reference acts on the file the link names, and says so


@pytest.mark.parametrize("kind", ["move", "copy", "remove"])
def test_a_linked_source_is_acted_on_by_its_real_path(layout: dict[str, Path], kind: str) -> None:
    link = layout["src"] / "link.com"
    link.symlink_to("bad.com")
    lines = Lines()
    assert _action(kind, layout["q"], lines).apply(str(link), identity(layout["bad"].stat()))
    real = layout["bad"]
    done = {"move": "moved to", "copy": "copied to", "remove": "Removed."}[kind]
    shown = f"{link} (real path: '{real}')"
    expected = f"{shown}: {done}" + (f" '{layout['q']}/bad.com'" if kind != "remove" else "")
    assert lines.notes == [expected] and lines.errors == []
    # The link itself is never moved nor removed.
    assert link.is_symlink()
    assert real.exists() == (kind == "copy")


def test_dot_dot_and_linked_directories_name_the_real_path(layout: dict[str, Path]) -> None:
    (layout["src"] / "sub").mkdir()
    via_link = layout["src"].parent / "srclink"
    via_link.symlink_to("src")
    lines = Lines()
    action = _action("copy", layout["q"], lines)
    dotted = f"{layout['src']}/sub/../bad.com"
    assert action.apply(dotted)
    assert action.apply(f"{via_link}/bad.com")
    real = layout["bad"]
    assert lines.notes == [
        f"{dotted} (real path: '{real}'): copied to '{layout['q']}/bad.com'",
        f"{via_link}/bad.com (real path: '{real}'): copied to '{layout['q']}/bad.com.001'",
    ]


def test_quarantine_named_with_dot_dot_is_its_real_directory(layout: dict[str, Path]) -> None:
    lines = Lines()
    action = Action.create(False, f"{layout['src']}/../q", None, lines)
    assert action is not None and action.directory == str(layout["q"])
    assert action.apply(str(layout["bad"]))
    assert lines.notes == [f"{layout['bad']}: moved to '{layout['q']}/bad.com'"]


# ---------------------------------------------------------------------------
# The source swapped after the scan


@pytest.mark.parametrize("kind", ["move", "copy", "remove"])
def test_source_swapped_for_a_link_after_the_scan_is_left_alone(
    layout: dict[str, Path], kind: str
) -> None:
    bad = layout["bad"]
    scanned = identity(bad.stat())
    bad.unlink()
    bad.symlink_to(layout["precious"])
    lines = Lines()
    assert not _action(kind, layout["q"], lines).apply(str(bad), scanned)
    assert lines.notes == [] and lines.errors == [f"Can't {kind} file '{bad}'"]
    assert layout["precious"].read_text() == "precious\n"
    assert bad.is_symlink() and os.listdir(layout["q"]) == []


@pytest.mark.parametrize("kind", ["move", "copy"])
def test_source_swapped_for_another_file_after_the_scan_is_left_alone(
    layout: dict[str, Path], kind: str
) -> None:
    bad = layout["bad"]
    scanned = identity(bad.stat())
    os.replace(layout["precious"], bad)
    lines = Lines()
    assert not _action(kind, layout["q"], lines).apply(str(bad), scanned)
    assert bad.read_text() == "precious\n" and os.listdir(layout["q"]) == []


def test_source_swapped_for_a_link_between_open_and_link(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = layout["bad"]
    lines = Lines()
    action = _action("move", layout["q"], lines)

    def swap() -> None:
        bad.unlink()
        bad.symlink_to(layout["precious"])

    _wrap(monkeypatch, "link", swap)
    assert not action.apply(str(bad))
    assert lines.errors == [f"Can't move file '{bad}'"]
    # The link made from the swapped-in name was taken back; nothing was followed.
    assert os.listdir(layout["q"]) == []
    assert bad.is_symlink() and layout["precious"].read_text() == "precious\n"


def test_source_swapped_for_a_link_and_back_around_the_link(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link swapped in for the link() call only, the file put back after:
    the quarantine must not keep the link, nor the file be unlinked."""
    bad, aside = layout["bad"], layout["src"] / "aside"
    lines = Lines()
    action = _action("move", layout["q"], lines)
    real_link = os.link

    def swapped_link(*args: object, **kwargs: object) -> None:
        bad.rename(aside)
        bad.symlink_to(layout["precious"])
        real_link(*args, **kwargs)  # type: ignore[arg-type]
        bad.unlink()
        aside.rename(bad)

    monkeypatch.setattr(quarantine.os, "link", swapped_link)
    assert not action.apply(str(bad))
    assert os.listdir(layout["q"]) == [] and bad.read_bytes() == EICAR


def test_source_swapped_for_a_link_just_before_it_is_opened(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no identity to check (clamdscan in path mode), a link swapped in
    after the real path was taken is still not followed: nothing outside is
    copied into the quarantine."""
    bad = layout["bad"]
    lines = Lines()
    action = _action("copy", layout["q"], lines)

    def swap() -> None:
        bad.unlink()
        bad.symlink_to(layout["precious"])

    # The second open(): the source, after its directory.
    _wrap(monkeypatch, "open", swap, at=2)
    assert not action.apply(str(bad))
    assert lines.errors == [f"Can't copy file '{bad}'"]
    assert os.listdir(layout["q"]) == []


def test_source_swapped_between_link_and_unlink(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is swapped for another file once the quarantine holds a link
    to the scanned one: the other file is not unlinked, the link is taken back."""
    bad = layout["bad"]
    lines = Lines()
    action = _action("move", layout["q"], lines)
    real_link = os.link

    def link_then_swap(*args: object, **kwargs: object) -> None:
        real_link(*args, **kwargs)  # type: ignore[arg-type]
        os.replace(layout["precious"], bad)

    monkeypatch.setattr(quarantine.os, "link", link_then_swap)
    assert not action.apply(str(bad))
    assert lines.errors == [f"Can't move file '{bad}'"]
    assert bad.read_text() == "precious\n" and os.listdir(layout["q"]) == []


def test_source_swapped_before_removal(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = layout["bad"]
    lines = Lines()
    action = _action("remove", layout["q"], lines)
    _wrap(monkeypatch, "stat", lambda: os.replace(layout["precious"], bad))
    assert not action.apply(str(bad))
    assert lines.errors == [f"Can't remove file '{bad}'"]
    assert bad.read_text() == "precious\n"


# ---------------------------------------------------------------------------
# The quarantine directory swapped for a link once its handle is open


# The call that creates the quarantine's new name: link() for a move; for a
# copy the third open() (after the source's directory and the source).
@pytest.mark.parametrize(("kind", "call", "at"), [("move", "link", 1), ("copy", "open", 3)])
def test_quarantine_swapped_for_a_link_after_it_was_opened(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch, kind: str, call: str, at: int
) -> None:
    q = layout["q"]
    lines = Lines()
    action = _action(kind, q, lines)
    moved_away = q.parent / "q-original"

    def swap() -> None:
        q.rename(moved_away)
        q.symlink_to(layout["outside"])

    _wrap(monkeypatch, call, swap, at)
    assert action.apply(str(layout["bad"]))
    assert os.listdir(layout["outside"]) == ["precious"]
    assert (moved_away / "bad.com").read_bytes() == EICAR


def test_a_link_planted_in_the_quarantine_is_never_followed(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Across file systems a move copies: the planted name is skipped, not written through."""
    q = layout["q"]
    (q / "bad.com").symlink_to(layout["precious"])

    def cross_device(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(quarantine.os, "link", cross_device)
    lines = Lines()
    assert _action("move", q, lines).apply(str(layout["bad"]))
    assert layout["precious"].read_text() == "precious\n"
    assert (q / "bad.com.001").read_bytes() == EICAR
    assert not layout["bad"].exists()
    assert lines.notes == [f"{layout['bad']}: moved to '{q}/bad.com.001'"]


def test_names_run_out_after_the_last_suffix(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three suffixes instead of 999 (the clamdscan case below uses them all).
    monkeypatch.setattr(quarantine, "MAX_QUARANTINE_SUFFIX", 3)
    q = layout["q"]
    (q / "bad.com").touch()
    for number in range(1, quarantine.MAX_QUARANTINE_SUFFIX + 1):
        (q / f"bad.com.{number:03d}").touch()
    lines = Lines()
    assert not _action("copy", q, lines).apply(str(layout["bad"]))
    assert lines.errors == [
        f"Can't copy file '{layout['bad']}': quarantine destination '{q}' is unavailable"
    ]


# ---------------------------------------------------------------------------
# clamdscan against the reference's clamdscan, both talking to the reference
# clamd: links, linked directories and ".." on the command line and in the
# quarantine's name.  Each side runs on a fresh copy of the same tree.

REFERENCE_CLAMDSCAN = shutil.which("clamdscan", path="/usr/bin:/usr/local/bin")

CLAMDSCAN_CASES = {
    "linked file, path mode": ("--move=q", "w/al"),
    "linked file, stream": ("--stream", "--move=q", "w/al"),
    "linked file, descriptor": ("--fdpass", "--remove", "w/al"),
    "linked directory": ("--move=q", "w/sl/a.com"),
    "dot dot": ("--copy=q", "w/src/../src/a.com"),
    "dot dot in the quarantine": ("--move=w/../q", "w/src/a.com"),
    # No name left: q/a.com and q/a.com.001 to .999 are taken.
    "full quarantine": ("--move=q", "w/sl/a.com"),
}


@pytest.fixture(scope="module")
def reference_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    if REFERENCE_CLAMDSCAN is None:
        pytest.skip("reference clamdscan is not installed (apt-get install clamdscan)")
    daemon = start_reference_clamd(tmp_path_factory.mktemp("quarantine-clamd"))
    yield daemon
    daemon.stop()


def _fresh_tree(root: Path, full: bool) -> None:
    shutil.rmtree(root, ignore_errors=True)
    (root / "q").mkdir(parents=True)
    if full:
        (root / "q" / "a.com").touch()
        for number in range(1, quarantine.MAX_QUARANTINE_SUFFIX + 1):
            (root / "q" / f"a.com.{number:03d}").touch()
    (root / "w" / "src").mkdir(parents=True)
    (root / "w" / "src" / "a.com").write_bytes(EICAR)
    (root / "w" / "al").symlink_to("src/a.com")
    (root / "w" / "sl").symlink_to("src")


def _state(root: Path) -> dict[str, object]:
    return {
        "q": len(os.listdir(root / "q")),
        **{name: sorted(os.listdir(root / name)) for name in ("w", "w/src")},
    }


@pytest.mark.parametrize("name", list(CLAMDSCAN_CASES))
def test_clamdscan_acts_as_the_reference(
    name: str,
    reference_daemon: RunningDaemon,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = reference_daemon.workdir / "clamd.conf"
    argv = ["-c", str(config), "--no-summary", *CLAMDSCAN_CASES[name]]
    full = name == "full quarantine"
    _fresh_tree(tmp_path, full)
    assert REFERENCE_CLAMDSCAN is not None
    theirs = subprocess.run(
        ["clamdscan", *argv],
        executable=REFERENCE_CLAMDSCAN,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    expected = (theirs.returncode, theirs.stdout, theirs.stderr, _state(tmp_path))
    _fresh_tree(tmp_path, full)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["clamdscan"])
    capsys.readouterr()
    code = clamdscan.run(argv)
    captured = capsys.readouterr()
    assert (code, captured.out, captured.err, _state(tmp_path)) == expected
