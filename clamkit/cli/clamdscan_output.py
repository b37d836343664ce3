"""clamdscan on a terminal: coloured FOUND and ERROR lines and a live progress line.

Strategy: imported only when standard output is a terminal, so piped output
never holds an escape code and ``clamdscan --ping`` never pays for rich.  The
lines themselves are the same bytes as when piped; only colour is added.
The progress line (files answered, MB/s sent, infected so far) is a rich
``Live`` display that appears once a scan has run for ``PROGRESS_DELAY``
seconds, redraws a few times a second, and is removed when the scan ends, so
quick scans look exactly like piped ones.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from rich.console import Console
from rich.live import Live
from rich.text import Text

# A scan shorter than this shows no progress line.
PROGRESS_DELAY = 1.0
REFRESHES_PER_SECOND = 4
_STYLES = {"found": "bold red", "error": "red", "warning": "yellow", "info": ""}

Snapshot = Callable[[], tuple[int, int, int]]  # files answered, bytes sent, infected


class Terminal:
    """Writes clamdscan's lines to the terminal, styled by kind."""

    def __init__(self) -> None:
        self._out = Console(file=sys.stdout, highlight=False, soft_wrap=True)
        self._err = Console(file=sys.stderr, highlight=False, soft_wrap=True)
        self._live: Live | None = None

    def line(self, text: str, *, error: bool, kind: str, end: str = "\n") -> None:
        # While the progress line is shown, messages for a terminal go above it
        # (through the same console); redirected ones still go to their file.
        shared = self._live is not None and self._err.is_terminal
        console = self._err if error and not shared else self._out
        console.print(Text(text, style=_STYLES[kind]), end=end)

    def start_progress(self, snapshot: Snapshot) -> None:
        self._live = Live(
            _ProgressLine(snapshot, time.monotonic()),
            console=self._out,
            refresh_per_second=REFRESHES_PER_SECOND,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def stop_progress(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


class _ProgressLine:
    """Renders the current counts each time rich redraws the live display."""

    def __init__(self, snapshot: Snapshot, started: float) -> None:
        self._snapshot = snapshot
        self._started = started

    def __rich__(self) -> Text:
        elapsed = time.monotonic() - self._started
        if elapsed < PROGRESS_DELAY:
            return Text("")
        files, sent, infected = self._snapshot()
        rate = sent / elapsed / (1024 * 1024)
        return Text(
            f"Scanning: {files} files, {rate:.1f} MB/s, {infected} infected",
            style="cyan" if not infected else "bold red",
        )
