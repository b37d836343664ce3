"""VirusEvent: substitutions, environment, no shell injection, and the reference's own run."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from daemons import send, start_reference_clamd

from clamkit.daemon.virusevent import (
    FILENAME_NOTICE,
    run_virus_event,
    shell_safe_name,
    virus_event_command,
)

VIRUS = Path("/usr/share/clamav-testfiles/clam.exe")
RECORDER = """#!/bin/sh
{{
  echo "ARGC=$#"
  for a in "$@"; do printf 'ARG=[%s]\\n' "$a"; done
  printf 'FILE=[%s]\\nNAME=[%s]\\n' "$CLAM_VIRUSEVENT_FILENAME" "$CLAM_VIRUSEVENT_VIRUSNAME"
}} > {log}
"""


def test_substitutions():
    argv, environment = virus_event_command(
        '/bin/x "%f" %% %x %%v %v%v -', "Win.Test-1.UNOFFICIAL", "/tmp/a b"
    )
    assert argv == [
        "/bin/sh",
        "-c",
        f'/bin/x "{FILENAME_NOTICE}" %% %x %Win.Test-1.UNOFFICIAL '
        "Win.Test-1.UNOFFICIALWin.Test-1.UNOFFICIAL -",
    ]
    assert environment["CLAM_VIRUSEVENT_FILENAME"] == "/tmp/a b"
    assert environment["CLAM_VIRUSEVENT_VIRUSNAME"] == "Win.Test-1.UNOFFICIAL"
    assert environment["PATH"] == os.environ["PATH"]


def test_a_percent_sign_inside_the_name_is_not_expanded_again():
    argv, _ = virus_event_command("echo %v", "Pct%f%v", "/f")
    assert argv[2] == "echo Pctfv"


def test_names_keep_only_characters_the_shell_takes_literally():
    for name in ("Win.Trojan.Agent-12345-0", "Eicar-Test-Signature", "Doc.Macro_x+y:z/w@v,u"):
        assert shell_safe_name(name) == name
    assert shell_safe_name("a;b|c&d$(e)`f`'g\"h i*j?k[l]m<n>o~p#q=r\\s\né") == "abcdefghijklmnopqrs"


def wait_for(path: Path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} was not written within {timeout} s")


def test_shell_metacharacters_in_names_run_nothing(tmp_path: Path):
    pwned = tmp_path / "pwned"
    file_name = f"/x; touch {pwned}1 $(touch {pwned}2) `touch {pwned}3` \"'\n|touch {pwned}4"
    virus_name = f"Evil$(touch {pwned}5);touch {pwned}6`touch {pwned}7`"
    log = tmp_path / "log"
    template = f"printf '%s|%s\\n' \"$CLAM_VIRUSEVENT_FILENAME\" %v > {log}"
    run_virus_event(template, virus_name, file_name).join(timeout=10)
    assert wait_for(log) == f"{file_name}|{shell_safe_name(virus_name)}\n"
    assert not list(tmp_path.glob("pwned*"))


def test_the_caller_does_not_wait(tmp_path: Path):
    started = time.monotonic()
    thread = run_virus_event(f"sleep 1; echo done > {tmp_path}/done", "X", "/f")
    assert time.monotonic() - started < 0.5
    thread.join(timeout=10)
    assert (tmp_path / "done").read_text() == "done\n"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_same_command_line_and_environment_as_the_reference(tmp_path: Path):
    if not VIRUS.is_file():
        pytest.skip(f"{VIRUS} is not installed (package clamav-testfiles)")
    recorder = tmp_path / "record.sh"
    template = f'{recorder} "%f" %% %x %%v %v%v end'
    target = tmp_path / "files" / "a b;c.exe"
    target.parent.mkdir()
    shutil.copyfile(VIRUS, target)
    logs = {}
    for side in ("reference", "clamkit"):
        logs[side] = tmp_path / f"{side}.log"
        recorder.write_text(RECORDER.format(log=logs[side]))
        recorder.chmod(0o755)
        if side == "reference":
            daemon = start_reference_clamd(tmp_path, f"VirusEvent {template}")
            try:
                reply = send(daemon.unix_path, f"zSCAN {target}\0".encode(), timeout=30)
                assert reply == f"{target}: ClamAV-Test-File.UNOFFICIAL FOUND\0".encode()
                reference = wait_for(logs[side])
            finally:
                daemon.stop()
        else:
            run_virus_event(template, "ClamAV-Test-File.UNOFFICIAL", str(target)).join(10)
            assert wait_for(logs[side]) == reference
    assert f"ARG=[{FILENAME_NOTICE}]" in reference
    assert f"FILE=[{target}]" in reference
