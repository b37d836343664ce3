"""The daemon's directory walk: order, exclusions, symlinks, special files, errors.

The unit tests state the rules observed on clamd 1.4.6; the reference tests
send CONTSCAN for the same paths to the reference clamd and compare every
reply line with what the walk yields (infected files are copies of ClamAV's
test executable, found by the harness's database).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemons import send, start_reference_clamd

from clamkit.config import parse_config
from clamkit.daemon.walk import (
    ACCESS_DENIED,
    EXCLUDED,
    NOT_SUPPORTED,
    OTHER_FILESYSTEM,
    Notice,
    ScanFile,
    WalkRules,
    argument_path,
    compile_excludes,
    path_check_failure,
    walk,
)

VIRUS = Path("/usr/share/clamav-testfiles/clam.exe")
FOUND = "ClamAV-Test-File.UNOFFICIAL FOUND"


def rules(text: str = "") -> WalkRules:
    return WalkRules.from_config(parse_config(text, "clamd.conf"))


def items(path: Path | str, walk_rules: WalkRules | None = None) -> list[tuple[str, str]]:
    """(kind, detail) pairs: ("scan", path) or ("notice", "path: text")."""
    return [
        ("scan", item.path)
        if isinstance(item, ScanFile)
        else ("notice", f"{item.path}: {item.text}")
        for item in walk(str(path), walk_rules or rules())
    ]


def scanned(path: Path | str, walk_rules: WalkRules | None = None) -> list[str]:
    return [detail for kind, detail in items(path, walk_rules) if kind == "scan"]


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    """Names created out of alphabetical order, so inode order differs from name order."""
    if not VIRUS.is_file():
        pytest.skip(f"{VIRUS} is not installed (package clamav-testfiles)")
    root = tmp_path / "tree"
    root.mkdir()
    for name in ("dir_b", "dir_a", "excl", "sub", "empty"):
        (root / name).mkdir()
    for name in ("m", "9", "z"):
        shutil.copyfile(VIRUS, root / name)
    (root / "B").write_text("clean\n")
    shutil.copyfile(VIRUS, root / "dir_b" / "f")
    shutil.copyfile(VIRUS, root / "excl" / "v")
    deep = root / "dir_a"
    for level in ("", "1", "2", "3"):
        deep = deep / level if level else deep
        deep.mkdir(exist_ok=True)
        shutil.copyfile(VIRUS, deep / "v")
    (root / "sub" / "filelink").symlink_to("../m")
    (root / "sub" / "dirlink").symlink_to("../dir_b")
    (root / "sub" / "broken").symlink_to("/nonexistent-target")
    os.mkfifo(root / "sub" / "fifo")
    yield root


def by_inode(paths: list[Path]) -> list[str]:
    return [str(path) for path in sorted(paths, key=lambda path: path.lstat().st_ino)]


def test_files_first_then_directories_each_by_inode_depth_first(tree):
    files = by_inode([tree / "m", tree / "9", tree / "z", tree / "B"])
    expected = files + [
        path
        for directory in by_inode([tree / "dir_b", tree / "dir_a", tree / "excl"])
        for path in scanned(directory)
    ]
    assert scanned(tree) == expected
    assert scanned(tree / "dir_a") == [
        f"{tree}/dir_a/v",
        f"{tree}/dir_a/1/v",
        f"{tree}/dir_a/1/2/v",
        f"{tree}/dir_a/1/2/3/v",
    ]


def test_symlinks_fifos_and_empty_directories_are_skipped_silently(tree):
    assert items(tree / "sub") == []
    assert items(tree / "empty") == []


def test_max_directory_recursion_counts_levels_below_the_argument(tree):
    assert scanned(tree / "dir_a", rules("MaxDirectoryRecursion 2\n")) == [
        f"{tree}/dir_a/v",
        f"{tree}/dir_a/1/v",
        f"{tree}/dir_a/1/2/v",
    ]
    assert scanned(tree / "dir_a", rules("MaxDirectoryRecursion 0\n"))[-1] == (
        f"{tree}/dir_a/1/2/3/v"
    )


def test_excluded_entries_are_reported_while_listing(tree):
    found = items(tree, rules(f"ExcludePath /excl$\nExcludePath {tree}/z$\n"))
    notices = [detail for kind, detail in found if kind == "notice"]
    assert sorted(notices) == [f"{tree}/excl: {EXCLUDED}", f"{tree}/z: {EXCLUDED}"]
    # Reported before anything is scanned.
    assert [kind for kind, _ in found[:2]] == ["notice", "notice"]
    assert f"{tree}/z" not in scanned(tree, rules(f"ExcludePath {tree}/z$\n"))


def test_an_excluded_argument_ends_the_command(tree):
    assert list(walk(f"{tree}/z", rules("ExcludePath /z$\n"))) == [
        Notice(f"{tree}/z", EXCLUDED, final=True)
    ]


def test_followed_symlinks(tree):
    both = rules("FollowFileSymlinks yes\nFollowDirectorySymlinks yes\n")
    assert items(tree / "sub", both) == [
        ("notice", f"{tree}/sub/broken: {path_check_failure(2)}"),
        ("scan", f"{tree}/sub/filelink"),
        ("scan", f"{tree}/sub/dirlink/f"),
    ]
    assert scanned(tree / "sub", rules("FollowFileSymlinks yes\n")) == [f"{tree}/sub/filelink"]
    assert scanned(tree / "sub", rules("FollowDirectorySymlinks yes\n")) == [
        f"{tree}/sub/dirlink/f"
    ]


def test_symlink_arguments(tree):
    assert items(tree / "sub" / "filelink") == []
    assert items(tree / "sub" / "dirlink") == []
    assert items(tree / "sub" / "broken") == []
    file_only = rules("FollowFileSymlinks yes\n")
    assert items(tree / "sub" / "filelink", file_only) == [("scan", f"{tree}/sub/filelink")]
    assert list(walk(f"{tree}/sub/dirlink", file_only)) == [
        Notice(f"{tree}/sub/dirlink", NOT_SUPPORTED)
    ]
    assert list(walk(f"{tree}/sub/broken", file_only)) == [
        Notice(f"{tree}/sub/broken", path_check_failure(2), final=True)
    ]


def test_arguments_that_are_not_regular_files_or_directories(tree):
    assert list(walk(f"{tree}/sub/fifo", rules())) == [Notice(f"{tree}/sub/fifo", NOT_SUPPORTED)]
    assert list(walk(f"{tree}/missing", rules())) == [
        Notice(f"{tree}/missing", "File path check failure: No such file or directory. ERROR", True)
    ]
    assert list(walk(f"{tree}/m/x", rules())) == [
        Notice(f"{tree}/m/x", "File path check failure: Not a directory. ERROR", True)
    ]


def test_argument_spelling(tree):
    assert argument_path(f"{tree}/dir_b//") == f"{tree}/dir_b"
    assert argument_path("/") == "/"
    assert scanned(f"{tree}/m//") == [f"{tree}/m"]
    assert scanned(f"//{str(tree).lstrip('/')}/dir_b/") == [f"{tree}/dir_b/f"]
    # Inner doubled slashes stay, as in clamd's replies.
    assert scanned(f"{tree}//dir_b") == [f"{tree}//dir_b/f"]


def test_a_symlink_loop_without_depth_limit_ends_at_the_kernels_limit(tmp_path: Path):
    # clamd 1.4.6 replied the same: 41 "/up" components, then ELOOP.
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "up").symlink_to("..")
    found = list(
        walk(str(tmp_path), rules("FollowDirectorySymlinks yes\nMaxDirectoryRecursion 0\n"))
    )
    notices = [item for item in found if isinstance(item, Notice)]
    assert len(notices) == 1
    assert notices[0].path == f"{tmp_path}/d" + "/up/d" * 40 + "/up"
    assert notices[0].text == "File path check failure: Too many levels of symbolic links. ERROR"


def test_an_exclude_pattern_that_does_not_compile_excludes_nothing():
    assert compile_excludes(("([a", "(?i)x", "[[:foo:]]", "x\\", "^/x")) == compile_excludes(
        ("^/x",)
    )


@pytest.mark.parametrize(
    ("pattern", "path", "excluded"),
    [
        ("/[[:digit:]]$", "/a/9", True),
        ("/[[:digit:]]$", "/a/10", False),
        ("/_[[:alpha:]]$", "/a/_x", True),
        ("/[^[:space:]]$", "/a/ ", False),
        ("/DIR$", "/dir", False),  # case matters
        ("/\\d$", "/a/9", False),  # no \d in POSIX: it is a "d"
        ("/\\d$", "/a/d", True),
        ("/[\\d]$", "/a/\\", True),  # a backslash in brackets is itself
        ("[]x]", "/]", True),
        ("\\<log\\>", "/var/log/x", True),
        ("\\<log\\>", "/var/blog/x", False),
        ("x$", "/a/x\n", False),
        ("a.b", "/a\nb", True),
        ("^/proc/", "/proc/1", True),
    ],
)
def test_exclude_patterns_are_posix_extended_regexes(pattern, path, excluded):
    assert WalkRules(exclude=compile_excludes((pattern,))).excluded(path) is excluded


def test_other_file_systems(tree):
    mount = tree / "mnt"
    mount.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "tmpfs", str(mount)], capture_output=True
    ).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        shutil.copyfile(VIRUS, mount / "v")
        assert items(tree, rules("CrossFilesystems no\n"))[0] == (
            "notice",
            f"{mount}: {OTHER_FILESYSTEM}",
        )
        assert f"{mount}/v" in scanned(tree)
        assert scanned(mount, rules("CrossFilesystems no\n")) == [f"{mount}/v"]
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root")
def test_unreadable_directories_as_an_unprivileged_user():
    """Run as nobody, as clamd with ``User nobody`` replied on 1.4.6."""
    tmp_path = Path(tempfile.mkdtemp(prefix="ckwalk", dir="/tmp"))
    tmp_path.chmod(0o755)
    try:
        check_unreadable_directories(tmp_path)
    finally:
        for child in tmp_path.iterdir():
            child.chmod(0o755)
        shutil.rmtree(tmp_path)


def check_unreadable_directories(tmp_path: Path) -> None:
    for name, mode in (("noread", 0o300), ("noexec", 0o600), ("ok", 0o755)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "v").write_text("x")
        (tmp_path / name).chmod(mode)
    (tmp_path / "ok" / "secret").write_text("x")
    (tmp_path / "ok" / "secret").chmod(0)
    program = (
        "import sys\n"
        "from clamkit.daemon.walk import walk, WalkRules, ScanFile\n"
        "for path in sys.argv[1:]:\n"
        "    for i in walk(path, WalkRules()):\n"
        "        print(i.path if isinstance(i, ScanFile) else f'{i.path}: {i.text} {i.final}')\n"
    )
    done = subprocess.run(
        [
            *("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"),
            *(sys.executable, "-c", program, str(tmp_path), f"{tmp_path}/noexec/v"),
            f"{tmp_path}/ok/secret",
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        check=False,
    )
    if "Permission denied" in done.stderr and "Traceback" in done.stderr:
        pytest.skip(f"the project is not readable by nobody: {done.stderr.splitlines()[-1]}")
    denied = "File path check failure: Permission denied. ERROR"
    ordered = by_inode([tmp_path / "noread", tmp_path / "noexec", tmp_path / "ok"])
    ok = by_inode([tmp_path / "ok" / "v", tmp_path / "ok" / "secret"])
    expected = [
        line
        for path in ordered
        for line in (ok if path.endswith("/ok") else [f"{path}: {denied} False"])
    ]
    assert done.stdout.splitlines() == [
        *expected,
        f"{tmp_path}/noexec/v: {denied} True",
        f"{tmp_path}/ok/secret: {ACCESS_DENIED} True",
    ]


# -- side by side with the reference ------------------------------------------


def expected_reply(path: str, walk_rules: WalkRules) -> list[str]:
    """CONTSCAN's reply lines: findings and notices, then the summary clamd adds."""
    lines, final = [], False
    for item in walk(path, walk_rules):
        if isinstance(item, ScanFile):
            if Path(item.path).read_bytes() == VIRUS.read_bytes():
                lines.append(f"{item.path}: {FOUND}")
        else:
            lines.append(f"{item.path}: {item.text}")
            final = item.final
    if not final and not any(line.endswith(" FOUND") for line in lines):
        lines.append(f"{argument_path(path)}: OK")
    return lines


CONFIGURATIONS = {
    "defaults": "",
    # One ExcludePath: the harness keeps only the last line of each option.
    "excluding": "ExcludePath /(excl|z)$\nMaxDirectoryRecursion 2\nFollowFileSymlinks yes\n",
    "following": "FollowDirectorySymlinks yes\nMaxDirectoryRecursion 1\n",
}


# tests/daemons.py leaks the socket of a connection attempt that fails while
# it waits for the daemon to come up.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("name", list(CONFIGURATIONS))
def test_contscan_replies_match_the_reference(tree, tmp_path, name):
    extra = CONFIGURATIONS[name]
    daemon = start_reference_clamd(tmp_path, extra)
    try:
        walk_rules = rules(extra)
        for path in [
            str(tree),
            f"{tree}/",
            f"{tree}/dir_a",
            f"{tree}/sub",
            f"{tree}/sub/fifo",
            f"{tree}/sub/filelink",
            f"{tree}/sub/dirlink",
            f"{tree}/sub/broken",
            f"{tree}/empty",
            f"{tree}/z",
            f"{tree}/excl",
            f"{tree}/missing",
            f"{tree}/m/x",
            f"{tree}//dir_b/",
        ]:
            reply = send(daemon.unix_path, f"zCONTSCAN {path}\0".encode(), timeout=30)
            assert reply.decode().split("\0")[:-1] == expected_reply(path, walk_rules), path
    finally:
        daemon.stop()
