"""VirusEvent: the command clamd.conf asks to run on each detection.

Strategy: as in clamd 1.4, the template becomes one ``/bin/sh -c`` command
line.  Every ``%v`` is replaced by the signature name; ``%f`` is not the file
name any more (CVE-2024-20328: file names are chosen by whoever supplies the
file) but the notice below, exactly as clamd 1.4 writes it; every other ``%``
is left alone.  The file and signature names reach the command, unaltered,
through the environment (CLAM_VIRUSEVENT_FILENAME, CLAM_VIRUSEVENT_VIRUSNAME).

One deliberate difference: clamd 1.4 pastes the signature name into the
shell command as it is, so a name such as ``X$(id)`` runs ``id``.  Here only
characters that are literal in a shell word survive in ``%v``; names of
official signatures (letters, digits, ``.``, ``-``, ``_``) are unchanged.

The command is started and reaped by a thread of its own; the caller never
waits for it.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading

FILENAME_NOTICE = (
    "The filename format character has been disabled due to security concerns, "
    "use the 'CLAM_VIRUSEVENT_FILENAME' environment variable instead."
)
_SHELL_UNSAFE = re.compile(r"[^A-Za-z0-9._+:/@,-]")
_FORMAT = re.compile(r"%[vf]")


def shell_safe_name(virus_name: str) -> str:
    """The signature name with every character the shell would interpret removed."""
    return _SHELL_UNSAFE.sub("", virus_name)


def virus_event_command(
    template: str, virus_name: str, file_name: str
) -> tuple[list[str], dict[str, str]]:
    """The argv and the complete environment for one VirusEvent run."""
    replacements = {"%v": shell_safe_name(virus_name), "%f": FILENAME_NOTICE}
    command = _FORMAT.sub(lambda match: replacements[match[0]], template)
    environment = {
        **os.environ,
        "CLAM_VIRUSEVENT_FILENAME": file_name,
        "CLAM_VIRUSEVENT_VIRUSNAME": virus_name,
    }
    return ["/bin/sh", "-c", command], environment


def run_virus_event(template: str, virus_name: str, file_name: str) -> threading.Thread:
    """Start the command and return the thread that reaps it (callers need not join it).

    Its output goes where the daemon's goes and its exit status is ignored,
    as clamd does.
    """
    argv, environment = virus_event_command(template, virus_name, file_name)

    def run() -> None:
        subprocess.run(
            argv,
            env=environment,
            stdin=subprocess.DEVNULL,
            close_fds=True,
            check=False,
        )

    thread = threading.Thread(target=run, name="VirusEvent", daemon=True)
    thread.start()
    return thread
