"""Ignore lines (.ign/.ign2) and the name-matching rule of IgnoreList."""

from __future__ import annotations

import pytest

from clamkit.signatures.ignore import IgnoreList, parse_ignore_line
from clamkit.signatures.model import IgnoreEntry, SignatureError


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("Eicar-Test", "Eicar-Test"),
        ("daily.ndb:12:Eicar-Test", "Eicar-Test"),  # old form: db and line unchecked
        ("::Eicar-Test", "Eicar-Test"),
        ("Eicar-Test ", "Eicar-Test"),
        (" Eicar-Test", " Eicar-Test"),
        ("Eicar.UNOFFICIAL", "Eicar.UNOFFICIAL"),
    ],
)
def test_valid_lines(line: str, name: str) -> None:
    assert parse_ignore_line(line) == IgnoreEntry(name)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "No signature name provided"),
        (":Name", "No signature name provided"),
        ("a:b:", "No signature name provided"),
        # The reference refuses the documented Name:md5 form whatever the md5.
        ("Name:44d88612fea8a8f36de82e1278abb02f", "Malformed MD5 string"),
        ("Name:", "Malformed MD5 string"),
        ("a:b:c:d", "got 4 fields"),
    ],
)
def test_refused_lines(line: str, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        parse_ignore_line(line)


def test_ignore_list_ignores_trailing_spaces_only() -> None:
    ignored = IgnoreList([IgnoreEntry("N"), IgnoreEntry("Tab\t")])
    assert "N" in ignored
    assert "N " in ignored
    assert " N" not in ignored
    assert "n" not in ignored
    assert "NX" not in ignored
    assert "Tab" not in ignored
    assert "Tab\t" in ignored
    assert 3 not in ignored


def test_ignore_list_grows() -> None:
    ignored = IgnoreList()
    assert not ignored
    ignored.extend([parse_ignore_line("A"), parse_ignore_line("x:1:B")])
    assert ignored
    assert len(ignored) == 2
    assert "B" in ignored
