"""clamd.conf(5): the committed page is the rendered table, and it renders cleanly."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from clamkit.config import OPTIONS
from clamkit.config.manpage import render_manpage

PAGE = Path(__file__).resolve().parent.parent / "man" / "clamd.conf.5"


def test_committed_page_is_the_rendered_table():
    assert PAGE.read_text() == render_manpage(), (
        "regenerate it: python -m clamkit.config.manpage > man/clamd.conf.5"
    )


def test_every_option_has_an_entry():
    page = render_manpage()
    for option in OPTIONS:
        assert f"\n.BR {option.name} " in page, option.name


def test_page_renders_without_warnings():
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    done = subprocess.run(
        ["man", "--warnings", "-l", str(PAGE)],
        capture_output=True,
        text=True,
        env={**os.environ, "MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat"},
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert "LogFileMaxSize SIZE" in done.stdout
    assert "Default: 100M." in done.stdout
