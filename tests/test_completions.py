"""Shell completions: the committed files are the generated ones, each
offers exactly the declared options with the right kind of value, and each
loads in its shell and completes there."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from clamkit.cli.completions import (
    VALUE_KINDS,
    UnknownMetavarError,
    ValueKind,
    render_completions,
    value_kind,
)
from clamkit.cli.getopt import OptionSpec
from clamkit.cli.manpages import COMMANDS, Command

COMPLETIONS = Path(__file__).resolve().parent.parent / "completions"
NAMES = [c.name for c in COMMANDS]
SHELL_TIMEOUT = 30


def _command(name: str) -> Command:
    return next(c for c in COMMANDS if c.name == name)


def _expected(command: Command) -> dict[str, ValueKind | None]:
    """Every spelling of every option -> what its value completes as (None: a switch)."""
    return {
        name: value_kind(spec) if spec.takes_value else None
        for spec in command.options()
        for name in (spec.long, spec.short)
        if name
    }


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A directory holding one file and one subdirectory, to complete in."""
    (tmp_path / "file1").write_text("")
    (tmp_path / "sub").mkdir()
    return tmp_path


def test_committed_files_are_the_generated_ones():
    generated = render_completions()
    assert sorted(p.name for p in COMPLETIONS.iterdir()) == sorted(generated)
    for name, text in generated.items():
        assert (COMPLETIONS / name).read_text() == text, (
            f"regenerate {name}: python -m clamkit.cli.completions"
        )


def test_every_metavar_has_a_kind_and_an_unknown_one_stops_the_generator():
    for command in COMMANDS:
        for spec in command.options():
            if spec.takes_value:
                assert spec.metavar in VALUE_KINDS, (command.name, spec.long)
    with pytest.raises(UnknownMetavarError, match="--size"):
        value_kind(OptionSpec("--size", None, True, "BYTES", "A size"))


# ---------------------------------------------------------------------------
# Read back: every declared option and nothing else, with its value's kind

_BASH_ACTIONS = {"compgen -f": ValueKind.PATH, "compgen -d": ValueKind.DIRECTORY}


def _bash_read_back(text: str) -> dict[str, ValueKind | None]:
    words = re.search(r'compgen -W "([^"]*)"', text)
    assert words is not None
    options: dict[str, ValueKind | None] = dict.fromkeys(words[1].split())
    for names, action in re.findall(r"^ {8}([^ (]+)\)\n +(.*)$", text, re.MULTILINE):
        kind = next((k for a, k in _BASH_ACTIONS.items() if a in action), ValueKind.TEXT)
        for name in names.split("|"):
            options[name] = kind
    return options


_ZSH_ACTIONS = {"_files -/": ValueKind.DIRECTORY, "_files": ValueKind.PATH, " ": ValueKind.TEXT}


def _zsh_read_back(text: str) -> dict[str, ValueKind | None]:
    options: dict[str, ValueKind | None] = {}
    for line in text.splitlines():
        spec = re.fullmatch(r"  '\*'?(?:\{([^}]*)\}')?([^'\[]*)\[[^\]]*\]([^']*)' ?\\?", line)
        if spec is None:
            continue
        names = spec[1].split(",") if spec[1] else [spec[2]]
        value = spec[3]
        kind = _ZSH_ACTIONS[value.rsplit(":", 1)[1]] if value else None
        for name in names:
            options[name.rstrip("=+")] = kind
    return options


def _fish_read_back(text: str) -> dict[str, ValueKind | None]:
    options: dict[str, ValueKind | None] = {}
    for line in text.splitlines():
        if not re.match(r"complete -c \S+ (-s|-l) ", line):
            continue
        if " -a '(__fish_complete_directories" in line:
            kind: ValueKind | None = ValueKind.DIRECTORY
        elif " -r -F " in line:
            kind = ValueKind.PATH
        elif " -x " in line:
            kind = ValueKind.TEXT
        else:
            kind = None
        for flag, name in re.findall(r" -([sl]) (\S+)", line.split(" -d ")[0]):
            options[("-" if flag == "s" else "--") + name] = kind
    return options


def _loosely(options: dict[str, ValueKind | None]) -> dict[str, ValueKind | None]:
    """Files complete as files and directories in every shell: FILE is PATH there."""
    return {n: ValueKind.PATH if k is ValueKind.FILE else k for n, k in options.items()}


@pytest.mark.parametrize(
    ("suffix", "read_back"),
    [(".bash", _bash_read_back), (".fish", _fish_read_back), ("", _zsh_read_back)],
    ids=["bash", "fish", "zsh"],
)
@pytest.mark.parametrize("name", NAMES)
def test_completion_offers_exactly_the_declared_options(name, suffix, read_back):
    file_name = f"_{name}" if not suffix else f"{name}{suffix}"
    found = read_back((COMPLETIONS / file_name).read_text())
    assert found == _loosely(_expected(_command(name)))


def test_operands_complete_as_files_only_for_commands_that_take_them():
    for command in COMMANDS:
        operands = command.takes_operands()
        zsh = (COMPLETIONS / f"_{command.name}").read_text()
        fish = (COMPLETIONS / f"{command.name}.fish").read_text()
        assert ("*:file or directory:_files" in zsh) is operands
        assert (f"complete -c {command.name} -f\n" not in fish) is operands


# ---------------------------------------------------------------------------
# In the shells themselves


def _shell(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install {name})")
    return path


def _run(argv: list[str], cwd: Path) -> str:
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=SHELL_TIMEOUT, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")
    return done.stdout


# Each case: the words typed (the last one is being completed), and what
# must be offered.  '=' is its own word, as bash splits it there.
_BASH_CASES = [
    (["clamscan", "--rec"], ["--recursive"]),
    (["clamscan", "-d", ""], ["file1", "sub"]),
    (["clamscan", "--database", "=", "f"], ["file1"]),
    (["clamscan", "--max-filesize", ""], []),
    (["clamscan", ""], ["file1", "sub"]),
    (["clamd", "--datadir", ""], ["sub"]),
    (["clamd", "--datadir", "="], ["sub"]),
    (["clamd", "-c", ""], ["file1", "sub"]),
    (["clamd", ""], []),
    (["clamdscan", "--move", ""], ["sub"]),
    (["clamdscan", "--copy", "=", "s"], ["sub"]),
    (["clamdscan", "--config-file", "="], ["file1", "sub"]),
    (["clamdscan", "-p", ""], []),
    (["clamdscan", "--no-s"], ["--no-summary"]),
]

_BASH_DRIVER = """
for file in "$@"; do source "$file"; done
complete_line() {
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
    "$(complete -p "$1" | sed 's/.* -F \\([^ ]*\\) .*/\\1/')"
    printf '%s\\n' "${COMPREPLY[*]}"
}
"""


def test_bash_completes_options_and_values(tree):
    bash = _shell("bash")
    script = _BASH_DRIVER + "".join(
        "complete_line " + " ".join(f"'{word}'" for word in words) + "\n"
        for words, _ in _BASH_CASES
    )
    files = [str(COMPLETIONS / f"{name}.bash") for name in NAMES]
    lines = _run([bash, "--norc", "-c", script, "bash", *files], tree).splitlines()
    assert [sorted(line.split()) for line in lines] == [offered for _, offered in _BASH_CASES]


# zsh completes only at a prompt: a second zsh runs in a pseudo-terminal,
# with compadd wrapped to print what is offered.  The markers are split in
# the definitions so that the terminal's echo of them does not match.
_ZSH_DRIVER = r"""
zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "PROMPT=''; fpath=(${(q)1} \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z "bindkey '^I' complete-word; zstyle ':completion:*' insert-tab false"
zpty -w z 'compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi
  local -a found; local f
  builtin compadd -A found "$@"
  for f in $found; do print -r -- "<<h""it>>$f"; done
  builtin compadd "$@"
}'
zpty -w z 'finish() { print -r -- "<<fin""ished>>"; exit }; comppostfuncs=(finish)'
zpty -w z "$2"$'\t'
local line
while zpty -r z line; do
  [[ $line == *'<<finished>>'* ]] && break
  [[ $line == *'<<hit>>'* ]] && print -r -- ${${line#*<<hit>>}%%$'\r'*}
done
"""


@pytest.mark.parametrize(
    ("line", "offered"),
    [
        ("clamscan --rec", {"--recursive"}),
        ("clamscan --database=", {"file1", "sub"}),
        ("clamd --datadir ", {"sub"}),
        ("clamscan --max-filesize ", set()),
        ("clamdscan --move ", {"sub"}),
        ("clamdscan --ping ", set()),
    ],
)
def test_zsh_completes_options_and_values(tree, line, offered):
    zsh = _shell("zsh")
    driver = tree.parent / "drive.zsh"
    driver.write_text(_ZSH_DRIVER)
    assert set(_run([zsh, "-f", str(driver), str(COMPLETIONS), line], tree).split()) == offered


_FISH_CASES = [
    ("clamscan --rec", ["--recursive"]),
    ("clamscan -d ", ["file1", "sub/"]),
    ("clamscan --max-filesize ", []),
    ("clamd --datadir ", ["sub/"]),
    ("clamd --datadir=", ["--datadir=sub/"]),
    ("clamd ", []),
    ("clamdscan --copy=", ["--copy=sub/"]),
    ("clamdscan -f ", ["file1", "sub/"]),
    ("clamdscan --ping ", []),
]


def test_fish_completes_options_and_values(tree):
    fish = _shell("fish")
    script = "".join(f"source {COMPLETIONS / name}.fish\n" for name in NAMES) + "".join(
        f"echo (complete -C '{line}' | string split -f1 \\t)\n" for line, _ in _FISH_CASES
    )
    lines = _run([fish, "--no-config", "-c", script], tree).splitlines()
    assert [sorted(line.split()) for line in lines] == [offered for _, offered in _FISH_CASES]
