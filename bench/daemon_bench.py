"""Daemon benchmark: clamkit's clamd against ClamAV's clamd, side by side in one run.

Strategy: both daemons are started the way operators start them (ClamAV's
``/usr/sbin/clamd`` and ``python -m clamkit.cli.clamd`` from this checkout)
with the same clamd.conf and the same database directory (links to the
shared ``real-subset`` signatures and ClamAV's test signature), one daemon
at a time, and are driven over their Unix socket by the same client code,
so the only difference is the daemon.  The data is generated from a fixed
seed: one large random stream, 1 MB random streams, two directories of
small random files, and a few known-infected files.  Every reply is checked
against the expected line, so speed is never bought with a wrong verdict.

Memory is the sum over the daemon's whole process tree (clamkit forks a
pool leader and scanner workers), sampled every 50 ms from /proc.  Both RSS
and PSS are reported; the targets use PSS, because workers forked after
loading share the engine copy-on-write and RSS would count it once per
worker.  Issue 7 sets the targets; the table gives each scenario's figure
for both daemons, the ratio clamkit/reference and PASS or FAIL, and is
written as JSON with the machine's facts.  Both daemons are always stopped
(SIGTERM, then SIGKILL) and the temporary directory removed.

Usage: ``python3 bench/daemon_bench.py [--quick] [--seed N] [--out PATH]``
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bench.scan_bench import DATABASES, MiB, _commit, _version  # noqa: E402
from tests.daemons import EICAR  # noqa: E402
from tests.test_hardening_harness import CLEAN_REPLY, Tally, ask, instream_request  # noqa: E402
from tests.test_hardening_lifecycle import RELOADED  # noqa: E402

REFERENCE_CLAMD = Path("/usr/sbin/clamd")
TESTFILES = Path("/usr/share/clamav-testfiles")
RESULTS = PROJECT_ROOT / "bench" / "results" / "daemon.json"
# The known-infected files (streamed, and scanned in a directory of their
# own), and what both daemons must call them with these databases (the hdb
# of real-subset finds EICAR, the test signature finds ClamAV's test
# executable, in a ZIP too).
INFECTED = {
    "eicar.com": "Win.Test.EICAR_HDB-1.UNOFFICIAL",
    "clam.exe": "Clamav.Test.File-6.UNOFFICIAL",
    "clam.zip": "Clamav.Test.File-6.UNOFFICIAL",
}
SAMPLE_SECONDS = 0.05
# Streams go in chunks of this size; clamdscan uses smaller ones, but the
# chunking is the same for both daemons and larger chunks keep the client cheap.
CHUNK = MiB
# A scan of the whole directory by a slow daemon must not time out.
LONG_TIMEOUT = 3600.0
START_TIMEOUT = 300.0
PING_POLL_SECONDS = 0.01
STOP_GRACE_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class Scale:
    """How big each scenario is; ``--quick`` shrinks everything for a smoke run."""

    big_bytes: int
    files: int
    streams: int
    steady_seconds: float
    stream_bytes: int = MiB
    small_file_sizes: tuple[int, int] = (1024, 64 * 1024)
    instream_runs: int = 3
    bursts: int = 3
    reload_clients: int = 8
    reloads: int = 3


FULL = Scale(big_bytes=200 * MiB, files=5000, streams=64, steady_seconds=3.0)
QUICK = Scale(big_bytes=20 * MiB, files=500, streams=16, steady_seconds=2.0)


def config_text(workdir: Path, database: Path, cache: bool) -> str:
    """The clamd.conf both daemons get: only the cache switch differs between runs.

    MaxFileSize and MaxScanSize are raised with StreamMaxLength: both daemons
    pass over objects larger than 100 MB by default, and the large stream
    must really be scanned.
    """
    options = {
        "Foreground": "yes",
        "LocalSocket": str(workdir / "clamd.sock"),
        "DatabaseDirectory": str(database),
        "LogFile": str(workdir / "clamd.log"),
        "DisableCache": "no" if cache else "yes",
        "MaxThreads": str(os.cpu_count() or 1),
        "StreamMaxLength": "300M",
        "MaxFileSize": "300M",
        "MaxScanSize": "300M",
    }
    return "".join(f"{name} {value}\n" for name, value in options.items())


# --- Memory of a process tree, from /proc ---------------------------------


@dataclass(frozen=True, slots=True)
class Memory:
    """RSS and PSS summed over a process tree, in KiB, and how many processes it had."""

    rss_kib: int = 0
    pss_kib: int = 0
    processes: int = 0

    def peak(self, other: Memory) -> Memory:
        """Each figure's maximum (the peaks need not come from the same sample)."""
        return Memory(
            max(self.rss_kib, other.rss_kib),
            max(self.pss_kib, other.pss_kib),
            max(self.processes, other.processes),
        )


def children(pid: int) -> list[int]:
    """The children of every thread of ``pid``; none once it has gone."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            found += [int(child) for child in task.read_text().split()]
    return found


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants."""
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending += children(pid)
    return tree


def rollup_kib(pid: int) -> tuple[int, int] | None:
    """(RSS, PSS) of one process from /proc/PID/smaps_rollup; None once it has gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    figures = {}
    for line in text.splitlines()[1:]:
        name, _, value = line.partition(":")
        figures[name] = int(value.split()[0])
    # A zombie's rollup is empty.
    if "Rss" not in figures:
        return None
    return figures["Rss"], figures["Pss"]


def tree_memory(root: int) -> Memory:
    """The memory of ``root``'s process tree now."""
    rollups = [rollup for pid in process_tree(root) if (rollup := rollup_kib(pid))]
    return Memory(sum(rss for rss, _ in rollups), sum(pss for _, pss in rollups), len(rollups))


class MemorySampler:
    """Samples a process tree every ``SAMPLE_SECONDS`` in a thread; peaks per named phase."""

    def __init__(self, root: int) -> None:
        self._root = root
        # Phases nest (a scenario inside the steady state): a sample counts for all open ones.
        self._phases: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.peaks: dict[str, Memory] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        memory = tree_memory(self._root)
        with self._lock:
            for phase in self._phases:
                self.peaks[phase] = self.peaks.get(phase, Memory()).peak(memory)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._sample()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Peaks taken while the block runs go to ``name`` (sampled at its ends too)."""
        with self._lock:
            self._phases.append(name)
        self._sample()
        try:
            yield
        finally:
            self._sample()
            with self._lock:
                self._phases.remove(name)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


# --- Starting and stopping a daemon ---------------------------------------


class BenchError(Exception):
    """A daemon did not start, or answered what no client can use."""


@dataclass(frozen=True, slots=True)
class DaemonKind:
    """A daemon to measure: its name in the table and the command that starts it."""

    name: str
    command: tuple[str, ...]


REFERENCE = DaemonKind("reference", (str(REFERENCE_CLAMD),))
# The module form with the checkout first on the path: the working tree is measured.
CLAMKIT = DaemonKind("clamkit", (sys.executable, "-m", "clamkit.cli.clamd"))


@dataclass
class Daemon:
    """A running daemon: its process, its private directory, its memory sampler."""

    process: subprocess.Popen[bytes]
    workdir: Path
    memory: MemorySampler
    startup_seconds: float = 0.0

    @property
    def socket(self) -> Path:
        return self.workdir / "clamd.sock"

    def log(self) -> str:
        path = self.workdir / "clamd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def output(self) -> str:
        return (self.workdir / "output.txt").read_text(errors="replace")

    def request(self, request: bytes) -> tuple[float, bytes]:
        """One request on a fresh connection: seconds until the daemon closed it, and the reply.

        A failure on the client's side (a reset, a broken pipe) becomes the
        reply, so it is counted as a wrong verdict instead of ending the run.
        """
        started = time.perf_counter()
        try:
            reply = ask(self.socket, request, timeout=LONG_TIMEOUT)
        except OSError as error:
            reply = f"client error: {error}".encode()
        return time.perf_counter() - started, reply


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (field 22 of its stat), so a reused pid is told apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def _stop(daemon: Daemon) -> None:
    """SIGTERM, a grace period, SIGKILL; then any process the tree left behind is killed."""
    tree = [
        (pid, started)
        for pid in process_tree(daemon.process.pid)[1:]
        if (started := _start_time(pid)) is not None
    ]
    if daemon.process.poll() is None:
        daemon.process.send_signal(signal.SIGTERM)
        try:
            daemon.process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            daemon.process.kill()
            daemon.process.wait()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    left = tree
    while left and time.monotonic() < deadline:
        left = [(pid, started) for pid, started in left if _start_time(pid) == started]
        time.sleep(0.1)
    for pid, _ in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _ping(socket_path: Path) -> bool:
    try:
        return ask(socket_path, b"zPING\0", timeout=START_TIMEOUT) == b"PONG\0"
    except OSError:  # not listening yet
        return False


@contextlib.contextmanager
def running(kind: DaemonKind, workdir: Path, database: Path, cache: bool) -> Iterator[Daemon]:
    """A started daemon, timed and sampled from spawn to its first PONG; stopped on exit."""
    workdir.mkdir(parents=True)
    config = workdir / "clamd.conf"
    config.write_text(config_text(workdir, database, cache))
    with (workdir / "output.txt").open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*kind.command, "-c", str(config)],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
        )
    daemon = Daemon(process, workdir, MemorySampler(process.pid))
    try:
        with daemon.memory.phase("start-up"):
            while not _ping(daemon.socket):
                if process.poll() is not None or time.perf_counter() - started > START_TIMEOUT:
                    raise BenchError(f"{kind.name} clamd did not start:\n{daemon.output()}")
                time.sleep(PING_POLL_SECONDS)
            daemon.startup_seconds = time.perf_counter() - started
        yield daemon
    finally:
        daemon.memory.close()
        _stop(daemon)


# --- Data -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Data:
    """What the scenarios send: whole INSTREAM requests, and the directories to scan.

    The infected files have a directory of their own: SCAN stops at the
    first virus it finds, so among the random files one would cut the timed
    scan short.  ``control`` holds as many random files again, of other
    content: scanned between two passes over ``clean``, it is what the cache
    saves set against, on the same warm daemon at the same moment.
    """

    big_request: bytes
    stream_requests: tuple[bytes, ...]
    # (request, expected reply) for the clients that stream during reloads.
    mixed_requests: tuple[tuple[bytes, bytes], ...]
    clean: Path
    control: Path
    files: int
    infected: Path
    # The whole reply lines a scan of ``infected`` that goes on past a virus gives.
    infected_lines: frozenset[str]


def found_reply(name: str) -> bytes:
    return f"stream: {name} FOUND\0".encode()


def _random_files(directory: Path, scale: Scale, rng: random.Random) -> Path:
    directory.mkdir(parents=True)
    for index in range(scale.files):
        size = rng.randint(*scale.small_file_sizes)
        (directory / f"{index:05d}.bin").write_bytes(rng.randbytes(size))
    return directory


def generate(directory: Path, scale: Scale, seed: int) -> Data:
    """Write the directories of random and of infected files; build the stream requests."""
    rng = random.Random(seed)
    big_request = instream_request(rng.randbytes(scale.big_bytes), CHUNK)
    streams = tuple(
        instream_request(rng.randbytes(scale.stream_bytes), CHUNK) for _ in range(scale.streams)
    )
    clean = _random_files(directory / "clean", scale, rng)
    control = _random_files(directory / "control", scale, rng)
    infected = {"eicar.com": EICAR}
    infected |= {name: (TESTFILES / name).read_bytes() for name in ("clam.exe", "clam.zip")}
    infected_directory = directory / "infected"
    infected_directory.mkdir()
    for name, content in infected.items():
        (infected_directory / name).write_bytes(content)
    mixed = [(request, CLEAN_REPLY) for request in streams[: scale.reload_clients]]
    mixed += [
        (instream_request(content, CHUNK), found_reply(INFECTED[name]))
        for name, content in infected.items()
    ]
    return Data(
        big_request=big_request,
        stream_requests=streams,
        mixed_requests=tuple(mixed),
        clean=clean,
        control=control,
        files=scale.files,
        infected=infected_directory,
        infected_lines=frozenset(
            f"{infected_directory / name}: {signature} FOUND"
            for name, signature in INFECTED.items()
        ),
    )


def link_databases(directory: Path) -> Path:
    """A database directory of symbolic links to the shared signature files."""
    directory.mkdir(parents=True)
    for source in DATABASES:
        for path in sorted(source.iterdir()):
            (directory / path.name).symlink_to(path)
    return directory


# --- Scenarios --------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile, interpolated linearly between the closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def scan_mistakes(reply: bytes, expected: frozenset[str]) -> list[str]:
    """What is wrong with a SCAN reply: lines that should not be there, lines missing."""
    lines = {line for line in reply.decode(errors="replace").split("\0") if line}
    return [f"unexpected: {line}" for line in sorted(lines - expected)] + [
        f"missing: {line}" for line in sorted(expected - lines)
    ]


def instream_throughput(daemon: Daemon, data: Data, scale: Scale) -> dict:
    """The large random stream ``instream_runs`` times: MB/s of the fastest run.

    The fastest, not the median: the machine is shared, and other work only
    ever slows a run down.
    """
    seconds, tally = [], Tally()
    with daemon.memory.phase("instream"):
        for _ in range(scale.instream_runs):
            elapsed, reply = daemon.request(data.big_request)
            seconds.append(elapsed)
            tally.record(reply, CLEAN_REPLY)
    return {
        "seconds": seconds,
        "mb_per_s": scale.big_bytes / MiB / min(seconds),
        "wrong": [reply.decode(errors="replace") for reply in tally.wrong],
    }


def _scan(daemon: Daemon, command: str, directory: Path) -> tuple[float, bytes]:
    return daemon.request(f"z{command} {directory}\0".encode())


def directory_scan(daemon: Daemon, directory: Path, files: int, command: str, phase: str) -> dict:
    """One ``SCAN``/``MULTISCAN`` of random files: files per second and wrong lines."""
    with daemon.memory.phase(phase):
        elapsed, reply = _scan(daemon, command, directory)
    return {
        "seconds": elapsed,
        "files_per_s": files / elapsed,
        "wrong": scan_mistakes(reply, frozenset({f"{directory}: OK"})),
    }


def infected_scans(daemon: Daemon, data: Data) -> dict:
    """The infected files, by the commands that go on past a virus: wrong lines of each."""
    return {
        command: {
            "wrong": scan_mistakes(_scan(daemon, command, data.infected)[1], data.infected_lines)
        }
        for command in ("CONTSCAN", "MULTISCAN")
    }


def concurrent_streams(daemon: Daemon, data: Data, scale: Scale) -> dict:
    """``bursts`` times, all streams at once, one client each: latency of each request."""
    latencies: list[float] = []
    tally = Tally()

    def client(request: bytes, start: threading.Barrier) -> None:
        start.wait()
        elapsed, reply = daemon.request(request)
        with tally.lock:
            latencies.append(elapsed * 1000)
        tally.record(reply, CLEAN_REPLY)

    with daemon.memory.phase("concurrent"):
        for _ in range(scale.bursts):
            start = threading.Barrier(len(data.stream_requests))
            threads = [
                threading.Thread(target=client, args=(request, start))
                for request in data.stream_requests
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    return {
        "requests": len(latencies),
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies),
        "wrong": [reply.decode(errors="replace") for reply in tally.wrong],
    }


@dataclass
class _Clients:
    """Clients streaming ``Data.mixed_requests`` in turn until stopped; their tally."""

    daemon: Daemon
    requests: tuple[tuple[bytes, bytes], ...]
    tally: Tally = field(default_factory=Tally)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, number: int) -> None:
        turn = number
        while not self.stop.is_set():
            request, expected = self.requests[turn % len(self.requests)]
            turn += 1
            self.tally.record(self.daemon.request(request)[1], expected)


def _wait_for_reloads(daemon: Daemon, count: int) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while daemon.log().count(RELOADED) < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(SAMPLE_SECONDS)
    return True


# The database file a change updates in place, as freshclam replaces daily.
UPDATED_DATABASE = "daily.ndb"


def change_databases(directory: Path, number: int) -> Callable[[], None]:
    """A database update in ``directory`` (one more signature, matching none of
    the bench's data), and how to undo it: odd numbers add a signature file,
    even ones replace ``UPDATED_DATABASE`` by a copy with one more line."""
    marker = f"clamkit bench database change {number}".encode()
    line = f"Bench.Change.{number}:0:*:{marker.hex()}\n"
    if number % 2:
        added = directory / f"bench-change-{number}.ndb"
        added.write_text(line)
        return added.unlink
    updated = directory / UPDATED_DATABASE
    original = updated.readlink() if updated.is_symlink() else None
    replacement = directory / f".{UPDATED_DATABASE}.new"
    replacement.write_bytes(updated.read_bytes() + line.encode())
    replacement.replace(updated)

    def restore() -> None:
        updated.unlink()
        if original is not None:
            updated.symlink_to(original)

    return restore


def reload_under_load(
    daemon: Daemon,
    data: Data,
    scale: Scale,
    *,
    reloads: int,
    phase: str = "reload",
    change: Path | None = None,
) -> dict:
    """Peak memory with clients streaming, then during ``reloads`` RELOADs with the same clients.

    With ``change`` (the daemon's database directory) each reload follows a
    database update there (``change_databases``): a signature file added,
    then ``UPDATED_DATABASE`` replaced by a longer one, as freshclam does.
    The reference compiles everything again; clamkit compiles the changed
    file.  The changes are undone at the end.
    """
    clients = _Clients(daemon, data.mixed_requests)
    threads = [
        threading.Thread(target=clients.run, args=(number,))
        for number in range(scale.reload_clients)
    ]
    for thread in threads:
        thread.start()
    unfinished = []
    reload_seconds = []
    undo: list[Callable[[], None]] = []
    done_before = daemon.log().count(RELOADED)
    try:
        with daemon.memory.phase(f"{phase}-steady"):
            time.sleep(scale.steady_seconds)
        with daemon.memory.phase(f"{phase}s"):
            for number in range(1, reloads + 1):
                if change is not None:
                    undo.append(change_databases(change, number))
                # Each reload's own peak too: one that recompiles stands out.
                with daemon.memory.phase(f"{phase}-{number}"):
                    started = time.perf_counter()
                    reply = daemon.request(b"zRELOAD\0")[1]
                    if reply != b"RELOADING\0":
                        raise BenchError(f"RELOAD answered {reply!r}")
                    if not _wait_for_reloads(daemon, done_before + number):
                        unfinished.append(f"reload {number} not done in {START_TIMEOUT:.0f} s")
                    reload_seconds.append(time.perf_counter() - started)
    finally:
        clients.stop.set()
        for thread in threads:
            thread.join()
        for undo_change in reversed(undo):
            undo_change()
    steady = daemon.memory.peaks[f"{phase}-steady"]
    peak = daemon.memory.peaks[f"{phase}s"]
    return {
        "reloads": reloads,
        "completed": reloads - len(unfinished),
        "reload_seconds": reload_seconds,
        "scans": clients.tally.right + len(clients.tally.wrong),
        "steady": asdict(steady),
        "peak": asdict(peak),
        "pss_ratio": peak.pss_kib / steady.pss_kib,
        "rss_ratio": peak.rss_kib / steady.rss_kib,
        # A reload that never finished is as wrong as a wrong verdict.
        "wrong": unfinished + [reply.decode(errors="replace") for reply in clients.tally.wrong],
    }


def measure(kind: DaemonKind, root: Path, database: Path, data: Data, scale: Scale) -> dict:
    """Every scenario against one daemon: one start without the cache, one with it."""
    print(f"{kind.name}: start-up, scans, concurrent streams, reloads ...", file=sys.stderr)
    figures: dict = {}
    with running(kind, root / f"{kind.name}-nocache", database, cache=False) as daemon:
        figures["startup_seconds"] = daemon.startup_seconds
        with daemon.memory.phase("steady"):
            figures["instream"] = instream_throughput(daemon, data, scale)
            figures["scan"] = directory_scan(daemon, data.clean, data.files, "SCAN", "scan")
            figures["multiscan"] = directory_scan(
                daemon, data.clean, data.files, "MULTISCAN", "multiscan"
            )
            figures["concurrent"] = concurrent_streams(daemon, data, scale)
            figures["infected"] = infected_scans(daemon, data)
        figures["reload"] = reload_under_load(daemon, data, scale, reloads=scale.reloads)
        # A file added, then a file updated.  The engine cache keeps the
        # parts of the current and the previous load, so the next start
        # finds the unchanged databases' parts.
        figures["changed_reload"] = reload_under_load(
            daemon, data, scale, reloads=2, phase="changed-reload", change=database
        )
        figures["memory"] = {name: asdict(peak) for name, peak in daemon.memory.peaks.items()}
    print(f"{kind.name}: clean-file cache ...", file=sys.stderr)
    with running(kind, root / f"{kind.name}-cache", database, cache=True) as daemon:
        figures["second_startup_seconds"] = daemon.startup_seconds
        cache = {
            name: directory_scan(daemon, directory, data.files, "MULTISCAN", f"cache-{name}")
            for name, directory in (
                ("first", data.clean),
                ("control", data.control),
                ("second", data.clean),
            )
        }
        figures["cache"] = {
            **cache,
            "speedup": cache["second"]["files_per_s"] / cache["first"]["files_per_s"],
            # What the cache is worth: a fresh daemon's first pass is also its
            # warm-up, so the second pass is set against the pass over other
            # files just before it, on the same warm daemon.
            "over_uncached": cache["second"]["files_per_s"] / cache["control"]["files_per_s"],
        }
        figures["second_memory"] = {
            name: asdict(peak) for name, peak in daemon.memory.peaks.items()
        }
    return figures


# --- Targets and the table ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """A target of issue 7: its wording and its test of (reference figure, clamkit figure)."""

    text: str
    met: Callable[[float, float], bool]


def ratio_at_least(factor: float) -> Target:
    return Target(f">= {factor:g}x", lambda reference, clamkit: clamkit >= factor * reference)


def ratio_at_most(factor: float) -> Target:
    return Target(f"<= {factor:g}x", lambda reference, clamkit: clamkit <= factor * reference)


def own_at_most(bound: float) -> Target:
    return Target(f"clamkit <= {bound:g}", lambda _, clamkit: clamkit <= bound)


def own_at_least(bound: float) -> Target:
    return Target(f"clamkit >= {bound:g}", lambda _, clamkit: clamkit >= bound)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table; a row without a target is shown for information."""

    scenario: str
    reference: float
    clamkit: float
    target: Target | None = None

    @property
    def ratio(self) -> float | None:
        return self.clamkit / self.reference if self.reference else None

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.target.met(self.reference, self.clamkit)

    def as_json(self) -> dict:
        return {
            "scenario": self.scenario,
            "reference": self.reference,
            "clamkit": self.clamkit,
            "ratio": self.ratio,
            "target": self.target.text if self.target else None,
            "passed": self.passed,
        }


def figure(value: float | None) -> str:
    """A figure with about three significant digits, thousands separated."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table (README.md shows it as printed)."""
    lines = [
        "| scenario | reference | clamkit | clamkit/reference | target | result |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for row in rows:
        result = {None: "", True: "PASS", False: "FAIL"}[row.passed]
        lines.append(
            f"| {row.scenario} | {figure(row.reference)} | {figure(row.clamkit)}"
            f" | {figure(row.ratio)} | {row.target.text if row.target else ''} | {result} |"
        )
    return "\n".join(lines)


def _mib(memory: dict, key: str) -> float:
    return memory[key] / 1024


def _wrong(figures: dict) -> int:
    names = ("instream", "scan", "multiscan", "concurrent", "reload", "changed_reload")
    checked = [figures[name] for name in names]
    checked += figures["infected"].values()
    checked += [figures["cache"][run] for run in ("first", "control", "second")]
    return sum(len(scenario["wrong"]) for scenario in checked)


def rows(reference: dict, clamkit: dict, scale: Scale) -> list[Row]:
    """The table: issue 7's targets, with RSS and the other figures shown beside them.

    The start-up targets are judged on the second start: by then clamkit's
    compiled engine is certainly in its cache on disk (keyed by the
    databases and clamkit's code), as on every start but the first after a
    change, and both daemons find their files in the page cache.  The first
    start, with the engine cache as this run found it, is shown.
    """
    both = (reference, clamkit)

    def row(scenario: str, pick: Callable[[dict], float], target: Target | None = None) -> Row:
        return Row(scenario, *(pick(figures) for figures in both), target)

    big = f"{scale.big_bytes // MiB} MB"
    files = f"{scale.files:,} files"
    streams = f"{scale.streams} x 1 MB"
    # (label, figures key, phase): the peaks of each start-up and of the steady state.
    peaks = (
        ("1st start-up", "memory", "start-up"),
        ("2nd start-up", "second_memory", "start-up"),
        ("steady", "memory", "steady"),
    )
    return [
        row("start-up to first PONG, 1st start (s)", lambda f: f["startup_seconds"]),
        row(
            "start-up to first PONG, 2nd start (s)",
            lambda f: f["second_startup_seconds"],
            ratio_at_most(1),
        ),
        *(
            row(
                f"peak PSS, {label} (MiB, all processes)",
                lambda f, k=key, p=phase: _mib(f[k][p], "pss_kib"),
                None if label == "1st start-up" else ratio_at_most(1),
            )
            for label, key, phase in peaks
        ),
        *(
            row(
                f"peak RSS, {label} (MiB, all processes)",
                lambda f, k=key, p=phase: _mib(f[k][p], "rss_kib"),
            )
            for label, key, phase in peaks
        ),
        row(
            f"INSTREAM {big} random (MB/s, best of {scale.instream_runs})",
            lambda f: f["instream"]["mb_per_s"],
            ratio_at_least(4),
        ),
        row(f"SCAN {files} (files/s)", lambda f: f["scan"]["files_per_s"], ratio_at_least(3)),
        row(
            f"MULTISCAN {files} (files/s)",
            lambda f: f["multiscan"]["files_per_s"],
            ratio_at_least(3),
        ),
        row(f"{streams} INSTREAM at once, p50 (ms)", lambda f: f["concurrent"]["p50_ms"]),
        row(
            f"{streams} INSTREAM at once, p99 (ms)",
            lambda f: f["concurrent"]["p99_ms"],
            ratio_at_most(0.5),
        ),
        row(
            f"{scale.reloads} RELOADs under load, peak/steady PSS",
            lambda f: f["reload"]["pss_ratio"],
            own_at_most(1.3),
        ),
        row(
            f"{scale.reloads} RELOADs under load, peak/steady RSS",
            lambda f: f["reload"]["rss_ratio"],
        ),
        row("RELOAD under load, slowest (s)", lambda f: max(f["reload"]["reload_seconds"])),
        row(
            "2 RELOADs after database updates, under load, peak/steady PSS",
            lambda f: f["changed_reload"]["pss_ratio"],
            own_at_most(1.3),
        ),
        row(
            "2 RELOADs after database updates, under load, peak/steady RSS",
            lambda f: f["changed_reload"]["rss_ratio"],
        ),
        row(
            "RELOAD after a database update, under load, slowest (s)",
            lambda f: max(f["changed_reload"]["reload_seconds"]),
        ),
        row(
            f"cache on, MULTISCAN {files} again (files/s)",
            lambda f: f["cache"]["second"]["files_per_s"],
        ),
        row("cache on, second pass / first pass", lambda f: f["cache"]["speedup"]),
        row(
            "cache on, second pass / pass over other files",
            lambda f: f["cache"]["over_uncached"],
            own_at_least(2),
        ),
        row(
            "wrong verdicts, all scenarios", _wrong, Target("none", lambda _, clamkit: not clamkit)
        ),
    ]


# --- The run ------------------------------------------------------------------


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def hyperscan_version() -> str | None:
    """The installed ``hyperscan`` package's version; None when it is not importable."""
    if importlib.util.find_spec("hyperscan") is None:
        return None
    try:
        return version("hyperscan")
    except PackageNotFoundError:  # importable but not installed as a distribution
        return "unknown version"


def _tree_state() -> str | None:
    """The commit, with ``+dirty-<digest>`` when clamkit/ differs from it (the working tree
    is what runs); the digest of the difference tells two dirty states apart."""
    commit = _commit()
    if commit is None:
        return None
    difference = b"".join(
        subprocess.run(
            ["git", *command, "--", "clamkit"], cwd=PROJECT_ROOT, capture_output=True, check=False
        ).stdout
        for command in (("status", "--porcelain"), ("diff", "HEAD"))
    )
    if not difference:
        return commit
    return f"{commit}+dirty-{hashlib.sha256(difference).hexdigest()[:8]}"


def measure_both(scale: Scale, seed: int) -> dict[str, dict]:
    """Generate the data, then measure the reference and clamkit, one after the other."""
    # Short: the daemons' Unix socket paths live under it (at most 107 bytes).
    with tempfile.TemporaryDirectory(prefix="ckbench-", dir="/tmp") as temporary:
        root = Path(temporary)
        print(f"generating data (seed {seed}) in {root} ...", file=sys.stderr)
        data = generate(root / "data", scale, seed)
        database = link_databases(root / "db")
        return {
            kind.name: measure(kind, root, database, data, scale) for kind in (REFERENCE, CLAMKIT)
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data, for a smoke run")
    parser.add_argument("--seed", type=int, default=20251124)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    needed = [REFERENCE_CLAMD, *DATABASES, TESTFILES / "clam.exe", TESTFILES / "clam.zip"]
    missing = [str(path) for path in needed if not path.exists()]
    if missing:
        print(f"daemon_bench: not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    scale = QUICK if args.quick else FULL
    # SIGTERM unwinds like Ctrl-C, so the daemons are stopped and the data removed.
    signal.signal(signal.SIGTERM, lambda number, _: sys.exit(128 + number))
    # clamkit's clamd (and its -V) runs from this checkout, whatever is installed.
    os.environ["PYTHONPATH"] = str(PROJECT_ROOT)
    commit = _tree_state()
    try:
        details = measure_both(scale, args.seed)
    except (BenchError, OSError) as error:
        print(f"daemon_bench: {error}", file=sys.stderr)
        return 1
    # Others may commit while the bench runs; a daemon started after that
    # runs other code (and misses the engine cache, whose key includes it).
    commit_at_end = _tree_state()
    if commit_at_end != commit:
        print(f"daemon_bench: clamkit changed during the run ({commit} -> {commit_at_end})")
    table = rows(details["reference"], details["clamkit"], scale)
    print(format_table(table))
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "quick": args.quick,
        "seed": args.seed,
        "scale": asdict(scale),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "hyperscan": hyperscan_version(),
        },
        "clamkit_commit": commit,
        "clamkit_commit_at_end": commit_at_end,
        "versions": {kind.name: _version(list(kind.command)) for kind in (REFERENCE, CLAMKIT)},
        "config": config_text(Path("WORKDIR"), Path("DATABASE"), cache=False).splitlines(),
        "memory_figure_for_targets": "PSS (RSS shown); summed over all processes of a daemon",
        "rows": [row.as_json() for row in table],
        "details": details,
    }
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    except OSError as error:
        print(f"daemon_bench: cannot write {args.out}: {error.strerror}", file=sys.stderr)
        return 1
    print(f"written {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
