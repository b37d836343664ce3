"""Manual pages of the commands: the committed pages are the generated ones,
they document exactly the options the code declares, and they render cleanly."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from clamkit.cli.manpages import COMMANDS, Command, generator_main, render_page, render_pages

MAN = Path(__file__).resolve().parent.parent / "man"
SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "FILES", "EXIT STATUS", "SEE ALSO")
# One spelling in an option's tag or synopsis word: \fB\-d\fR \fIFILE\fR.
_SPELLING = re.compile(r"\\fB(?P<name>[^\\]*(?:\\-[^\\]*)*)\\fR(?:[ =]\\fI(?P<value>[^\\]*)\\fR)?")


def _page(command: Command) -> str:
    return (MAN / f"{command.name}.{command.section}").read_text()


def _section(page: str, title: str) -> list[str]:
    lines = page.splitlines()
    start = lines.index(f".SH {title}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith(".SH ")), len(lines))
    return lines[start:end]


def _spellings(text: str) -> set[tuple[str, str]]:
    return {
        (m["name"].replace("\\-", "-"), (m["value"] or "").replace("\\-", "-"))
        for m in _SPELLING.finditer(text)
    }


def _declared(command: Command) -> dict[str, tuple[set[tuple[str, str]], str]]:
    """Each option's long name -> its spellings with their value, and its help."""
    return {
        spec.long: (
            {(name, spec.metavar) for name in (spec.long, spec.short) if name},
            spec.help,
        )
        for spec in command.options()
    }


def _documented(page: str) -> dict[str, tuple[set[tuple[str, str]], str]]:
    """The OPTIONS section read back: each entry's spellings and its text."""
    lines = _section(page, "OPTIONS")
    entries = {}
    for index, line in enumerate(lines):
        if line == ".TP":
            spellings = _spellings(lines[index + 1])
            long_name = next(name for name, _ in spellings if name.startswith("--"))
            entries[long_name] = (spellings, lines[index + 2].replace("\\-", "-"))
    return entries


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_committed_page_is_the_generated_one(command: Command):
    assert _page(command) == render_page(command), (
        "regenerate the pages: python -m clamkit.cli.manpages"
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_options_section_documents_exactly_the_declared_options(command: Command):
    documented = _documented(_page(command))
    declared = _declared(command)
    assert documented.keys() == declared.keys()
    for long_name, (spellings, help_text) in declared.items():
        assert documented[long_name][0] == spellings, long_name
        assert documented[long_name][1].startswith(help_text), long_name


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_synopsis_lists_every_option_once(command: Command):
    synopsis = "\n".join(_section(_page(command), "SYNOPSIS"))
    # "-" is the standard-input operand, not an option.
    names = [name for name, _ in _spellings(synopsis) if name != "-"]
    expected = [spec.short or spec.long for spec in command.options()]
    assert sorted(names) == sorted(expected)
    assert ("[\\fIFILE\\fR" in synopsis) == command.takes_operands()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_page_has_every_section_in_order(command: Command):
    titles = [line[4:] for line in _page(command).splitlines() if line.startswith(".SH ")]
    assert tuple(titles) == SECTIONS


def test_check_mode_names_a_stale_page_and_writing_fixes_it(tmp_path, capsys):
    pages = render_pages()
    assert generator_main([str(tmp_path)], render_pages, MAN) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(pages)
    assert generator_main(["--check", str(tmp_path)], render_pages, MAN) == 0
    stale = tmp_path / "clamscan.1"
    stale.write_text(pages["clamscan.1"].replace("Descend into", "Go into"))
    assert generator_main(["--check", str(tmp_path)], render_pages, MAN) == 1
    assert str(stale) in capsys.readouterr().err
    assert stale.read_text() != pages["clamscan.1"]
    assert generator_main([str(tmp_path)], render_pages, MAN) == 0
    assert stale.read_text() == pages["clamscan.1"]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_groff_reports_no_warnings(command: Command):
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed")
    page = MAN / f"{command.name}.{command.section}"
    done = subprocess.run(
        ["groff", "-ww", "-z", "-man", str(page)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_man_renders_every_option(command: Command):
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    page = MAN / f"{command.name}.{command.section}"
    done = subprocess.run(
        ["man", "--warnings", "-l", str(page)],
        capture_output=True,
        text=True,
        # Wide enough that no option is hyphenated across lines.
        env={**os.environ, "MANWIDTH": "200", "MANPAGER": "cat", "PAGER": "cat"},
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(f"{command.name.upper()}({command.section})")
    for spec in command.options():
        assert spec.long in done.stdout, spec.long
