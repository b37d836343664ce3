"""Reply texts of the clamd protocol, as ClamAV 1.4's clamd words them.

Strategy: every fixed text is a named constant (the tests import the same
names), every variable one is a pure function of what the server knows.
The texts the protocol layer answers by itself (UNKNOWN COMMAND and the
other rejections) live in ``framing``, which produces them.  Nothing here
frames a reply: the session prefix and the terminator are added by
``clamkit.protocol.framing.reply``.  Wording, spacing and number formats
were checked byte for byte against the reference (see
tests/test_protocol_reference.py).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from clamkit.protocol.framing import Command

PONG = "PONG"
RELOADING = "RELOADING"
# Sent when a client stays silent past CommandReadTimeout or ReadTimeout:
# always newline-terminated and never prefixed, even inside a z session.
READ_TIMED_OUT = b"COMMAND READ TIMED OUT\n"

# The name INSTREAM results are reported under.
STREAM_NAME = "stream"


def descriptor_name(fd: int) -> str:
    """The name FILDES results are reported under: the daemon's own descriptor number."""
    return f"fd[{fd}]"


def ok_line(name: str) -> str:
    return f"{name}: OK"


def found_line(name: str, virus: str, extended: tuple[str, int] | None = None) -> str:
    """``name: VIRUS FOUND``; with ``extended`` = (md5 hex, size), ``VIRUS(md5:size)``.

    The extended form is what ExtendedDetectionInfo adds to the *log*; the
    reference's replies to clients never carry it.
    """
    if extended is not None:
        md5, size = extended
        virus = f"{virus}({md5}:{size})"
    return f"{name}: {virus} FOUND"


def error_line(name: str, message: str) -> str:
    """``name: message ERROR``, e.g. ``path: Access denied. ERROR``."""
    return f"{name}: {message} ERROR"


def path_check_failure(path: str, errno: int) -> str:
    """The reply for a path that cannot be looked at (missing, too long, ...)."""
    return error_line(path, f"File path check failure: {os.strerror(errno)}.")


def version_reply(
    clamkit_version: str, db_version: int | None = None, db_time: float | None = None
) -> str:
    """``ClamAV <version>[/<db version>/<db build time>]``.

    The reference adds the database part only when a daily database gives
    a version and build time; the time is printed as ctime(3) does, in local
    time.  Clients
    (c-icap, clamdscan) require the leading ``ClamAV ``.
    """
    text = f"ClamAV {clamkit_version}"
    if db_version is not None and db_time is not None:
        text += f"/{db_version}/{time.ctime(db_time)}"
    return text


def versioncommands_reply(version_text: str) -> str:
    """VERSIONCOMMANDS: the VERSION text, then the commands this daemon accepts."""
    return f"{version_text}| COMMANDS: {' '.join(command.value for command in Command)}"


@dataclass(frozen=True, slots=True)
class Job:
    """One thread's current work in STATS: ``IDLE`` for an idle thread.

    ``detail`` is what the reference prints after the time: the file name of
    a SCAN, empty for most commands.
    """

    command: str
    seconds: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class MemoryFigures:
    """MEMSTATS in megabytes; None prints ``N/A`` as the reference does
    where the C library gives no heap figures."""

    heap: float | None = None
    mmap: float | None = None
    used: float | None = None
    free: float | None = None
    releasable: float | None = None
    pools: int = 1
    pools_used: float = 0.0
    pools_total: float = 0.0


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """What STATS reports about the daemon at one instant."""

    threads_live: int
    threads_idle: int
    threads_max: int
    idle_timeout: int
    # How long each queued job has waited so far, in seconds.
    queue_waits: tuple[float, ...] = ()
    jobs: tuple[Job, ...] = ()
    memory: MemoryFigures = MemoryFigures()
    pools: int = 1
    state: str = "VALID PRIMARY"


def _megabytes(value: float | None) -> str:
    return "N/A" if value is None else f"{value:.3f}M"


def stats_reply(snapshot: StatsSnapshot) -> str:
    """The STATS text up to and including ``END`` (the terminator is the framer's).

    Queued jobs are only counted, with their waits; the listed lines are the
    threads' current jobs, each ``\\t<COMMAND> <seconds> <detail>``.
    """
    waits = snapshot.queue_waits
    queue = f"QUEUE: {len(waits)} items"
    if waits:
        queue += (
            f" min_wait: {min(waits):.6f} max_wait: {max(waits):.6f}"
            f" avg_wait: {sum(waits) / len(waits):.6f}"
        )
    jobs = "".join(f"\t{job.command} {job.seconds:.6f} {job.detail}\n" for job in snapshot.jobs)
    mem = snapshot.memory
    memstats = (
        f"MEMSTATS: heap {_megabytes(mem.heap)} mmap {_megabytes(mem.mmap)}"
        f" used {_megabytes(mem.used)} free {_megabytes(mem.free)}"
        f" releasable {_megabytes(mem.releasable)} pools {mem.pools}"
        f" pools_used {mem.pools_used:.3f}M pools_total {mem.pools_total:.3f}M"
    )
    return (
        f"POOLS: {snapshot.pools}\n\n"
        f"STATE: {snapshot.state}\n"
        f"THREADS: live {snapshot.threads_live}  idle {snapshot.threads_idle}"
        f" max {snapshot.threads_max} idle-timeout {snapshot.idle_timeout}\n"
        f"{queue}\n{jobs}\n{memstats}\nEND"
    )
