"""The scanner processes: a spawner, one pool leader per engine, and its workers.

Run as ``python -m clamkit.daemon.worker FD`` by ``pool.LeaderSpawner``,
with FD the spawner's socket.  The spawner imports the scanner code once
and then only forks: one pool leader for each control socket it is sent
(``StartLeader``).  A leader reads ``PoolSettings``, loads and compiles the
database (or reads the compiled engine back from ``engine.cache``), makes
the clean-file cache (``cleancache``), then forks the workers, which share
the compiled engine and the cache copy-on-write (the collector is frozen
first so it does not touch every object and undo the sharing). Each worker
gets its own job socket, whose other end the leader hands to the network
process (``WorkerAdded``).  The network process stops idle workers and asks
for new ones (``AddWorker``) as scans need them, which also replaces one
that died; when the control socket closes (the daemon exits or moved to a
new pool after a reload) the leader forks no more and leaves once its
workers have finished their last job.

Why processes: scanning is pure Python and CPU-bound, so threads would be
serialised by the GIL; forked workers scan on every core.  Why a separate
leader: the network process never holds an engine, so a reload builds the
new one in a new leader while the old workers keep scanning, and the
network process stays small and fork-free.  Why a spawner: a leader forked
from it shares the interpreter and the imported code with every other
generation instead of loading its own, so a reload adds the new engine and
little else to the daemon's memory.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import socket
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path

from clamkit.daemon.cleancache import CleanCache, md5_of
from clamkit.daemon.ipc import (
    AddWorker,
    BlockingReceiver,
    CancelJob,
    ChannelClosed,
    JobResult,
    PoolFailed,
    PoolReady,
    PoolSettings,
    ScanJob,
    StartLeader,
    WorkerAdded,
    WorkerNotAdded,
    send,
)
from clamkit.database.loader import DatabaseError, LoadOptions
from clamkit.engine import Engine
from clamkit.engine.cache import load_engine
from clamkit.engine.options import ScanOptions

# The containers ClamAV signs; OfficialDatabaseOnly loads nothing else.
OFFICIAL_SUFFIXES = frozenset({".cvd", ".cld"})

# How often a scan looks for a cancellation from the network process.
CANCEL_POLL_SECONDS = 0.05


class _CancelWatch:
    """``should_stop`` for the running job: polls the job socket, at most every 50 ms."""

    def __init__(self, receiver: BlockingReceiver, job_id: int) -> None:
        self.receiver = receiver
        self.job_id = job_id
        self.cancelled = False
        self.next_poll = time.monotonic() + CANCEL_POLL_SECONDS

    def __call__(self) -> bool:
        if self.cancelled:
            return True
        now = time.monotonic()
        if now < self.next_poll:
            return False
        self.next_poll = now + CANCEL_POLL_SECONDS
        try:
            message = self.receiver.poll()
        except ChannelClosed:
            self.cancelled = True
            return True
        if isinstance(message, tuple) and isinstance(message[0], CancelJob):
            self.cancelled = message[0].job_id == self.job_id
        return self.cancelled


def _run_job(
    engine: Engine,
    settings: PoolSettings,
    cache: CleanCache | None,
    job: ScanJob,
    fds: list[int],
    watch: _CancelWatch,
) -> JobResult:
    # A descriptor is scanned through its /proc path: the engine maps regular
    # files, and the descriptor's own offset stays untouched.
    path = job.path if job.path is not None else f"/proc/self/fd/{fds[0]}"
    options = replace(settings.scan_options, allmatch=job.allmatch, should_stop=watch)
    try:
        digest = file_size = None
        if cache is not None:
            digest, file_size = md5_of(path)
            if digest in cache:
                return JobResult(job.job_id, names=(), size=file_size, bytes_scanned=0)
        started = time.monotonic()
        result = engine.scan_file(path, options)
        if cache is not None and _complete_and_clean(result.names, started, options, watch):
            cache.add(digest)
        md5 = size = None
        if result.names and settings.extended_detection_info:
            if digest is None:
                digest, file_size = md5_of(path)
            md5, size = digest.hex(), file_size
    except OSError as error:
        return JobResult(job.job_id, error=error.strerror, errno=error.errno)
    except Exception as error:
        # A fault in the engine on hostile input costs this object its scan,
        # never the worker: the client gets an error reply and the next job runs.
        traceback.print_exc()
        return JobResult(job.job_id, error=f"Internal error while scanning: {type(error).__name__}")
    return JobResult(
        job.job_id,
        names=result.names,
        md5=md5,
        size=size if size is not None else result.bytes_read,
        bytes_scanned=result.bytes_scanned,
        cancelled=watch.cancelled,
    )


def _complete_and_clean(
    names: tuple[str, ...], started: float, options: ScanOptions, watch: _CancelWatch
) -> bool:
    """Whether a clean verdict is final: a cancelled scan or one MaxScanTime
    cut short (silently, without AlertExceedsMax) may have missed something."""
    if names or watch.cancelled:
        return False
    limit = options.max_scantime_ms
    return not limit or (time.monotonic() - started) * 1000 < limit


def _serve_jobs(
    engine: Engine, settings: PoolSettings, cache: CleanCache | None, sock: socket.socket
) -> None:
    receiver = BlockingReceiver(sock)
    while True:
        try:
            message, fds = receiver.receive()
        except ChannelClosed:
            return
        try:
            if isinstance(message, ScanJob):
                watch = _CancelWatch(receiver, message.job_id)
                send(sock, _run_job(engine, settings, cache, message, fds, watch))
        except ChannelClosed:
            return
        finally:
            for fd in fds:
                os.close(fd)


def _start_worker(
    engine: Engine,
    settings: PoolSettings,
    cache: CleanCache | None,
    control: socket.socket,
    wake: int,
) -> int | None:
    """Fork a worker and hand its job socket to the network process; None if
    no process could be made (the network process is told, and asks again)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        pid = os.fork()
    except OSError as error:
        ours.close()
        theirs.close()
        send(control, WorkerNotAdded(error.strerror or str(error)))
        return None
    if pid == 0:
        status = 1
        try:
            control.close()
            os.close(wake)
            theirs.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.set_wakeup_fd(-1)
            _serve_jobs(engine, settings, cache, ours)
            status = 0
        finally:
            os._exit(status)
    ours.close()
    send(control, WorkerAdded(pid), (theirs.fileno(),))
    theirs.close()
    return pid


def _database_paths(settings: PoolSettings) -> list[str]:
    """The directory, or with OfficialDatabaseOnly only its signed containers."""
    if not settings.official_only:
        return [settings.database_dir]
    official = sorted(
        str(path)
        for path in Path(settings.database_dir).iterdir()
        if path.suffix in OFFICIAL_SUFFIXES
    )
    if not official:
        message = f"No official database (.cvd, .cld) in {settings.database_dir}"
        raise DatabaseError(message, message)
    return official


def _lead(control: socket.socket) -> None:
    receiver = BlockingReceiver(control)
    settings, _ = receiver.receive()
    assert isinstance(settings, PoolSettings)
    try:
        engine, report, _ = load_engine(
            _database_paths(settings),
            LoadOptions(detect_pua=settings.detect_pua),
            compile_apart=True,
        )
    except (DatabaseError, OSError) as error:
        send(control, PoolFailed(str(error)))
        return
    headers = [h for h in report.cvd_headers if h.build_time_seconds is not None]
    newest = max(headers, key=lambda header: header.version, default=None)
    send(
        control,
        PoolReady(
            leader_pid=os.getpid(),
            signature_count=engine.signature_count,
            database_version=newest.version if newest else None,
            database_time=newest.build_time_seconds if newest else None,
            warnings=tuple(report.warnings),
        ),
    )
    del report
    # Objects alive now are shared with every worker; keep the collector off
    # them.  No collection first: many of the engine's objects sit in memory
    # the leader still shares with the spawner, and a collection writes to
    # every object it visits (the loader leaves no cycles behind to collect).
    gc.freeze()
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    # Made before the fork, so every worker shares it.
    cache = CleanCache(settings.clean_cache_entries) if settings.clean_cache_entries else None
    workers: set[int] = set()

    def add_worker() -> None:
        if (pid := _start_worker(engine, settings, cache, control, wake_read)) is not None:
            workers.add(pid)

    for _ in range(settings.workers):
        add_worker()
    # Workers stop when the network process closes their sockets (idle, or
    # this pool retired) or die; it asks for new ones as scans need them.
    serving = True
    while serving or workers:
        if serving:
            readable, _, _ = select.select([control, wake_read], [], [])
            if control in readable:
                try:
                    while (message := receiver.poll()) is not None:
                        request, fds = message
                        for fd in fds:
                            os.close(fd)
                        if isinstance(request, AddWorker):
                            add_worker()
                except ChannelClosed:
                    serving = False
            if wake_read in readable:
                os.read(wake_read, 512)
        else:
            os.read(wake_read, 512)
        while workers:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            workers.discard(pid)


def _spawn_leaders(spawner: socket.socket) -> None:
    """Fork a pool leader for each control socket the network process sends."""
    receiver = BlockingReceiver(spawner)
    # What is alive now is the imported code every leader shares: keep the
    # leaders' collections off it.
    gc.collect()
    gc.freeze()
    while True:
        message, fds = receiver.receive()
        if not isinstance(message, StartLeader) or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            continue
        control = socket.socket(fileno=fds[0])
        try:
            pid = os.fork()
        except OSError as error:
            with contextlib.suppress(OSError):
                send(control, PoolFailed(f"Can't start a scanner process: {error.strerror}"))
            control.close()
            continue
        if pid == 0:
            try:
                spawner.close()
                # The leader waits for its own children (a compile, its workers).
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                with contextlib.suppress(ChannelClosed):
                    _lead(control)
                sys.stdout.flush()
            finally:
                os._exit(0)
        control.close()


def main() -> None:
    spawner = socket.socket(fileno=int(sys.argv[1]))
    # The network process handles signals for the daemon; a terminal's
    # Ctrl-C must not kill scans behind its back.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    # Leaders that have finished are reaped by the kernel.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    with contextlib.suppress(ChannelClosed):
        _spawn_leaders(spawner)
    os._exit(0)


if __name__ == "__main__":
    main()
