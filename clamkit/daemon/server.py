"""The daemon's network process: accept clients, speak the protocol, dispatch scans.

Strategy: one asyncio event loop moves bytes and nothing else.  Each client
connection feeds what it receives to a sans-I/O ``ServerConnection``
(``clamkit.protocol``) and acts on the events it returns; scans go to the
scanner processes of the current ``ScanPool``, so no client's scan ever
holds up another client's bytes.  Replies go out in one write each, under a
per-connection lock, because many clients read once.

A reload starts a new pool and retires the old one once the new engine is
ready; scans in flight finish on the engine they started with.  Shutdown
stops accepting, lets replies in flight finish for a bounded time, then
closes what is left, so a client sees its whole reply or a closed connection.
"""

from __future__ import annotations

import array
import asyncio
import collections
import contextlib
import errno
import os
import resource
import select
import signal
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from clamkit import __version__
from clamkit.config.parser import Config, unacted_warnings
from clamkit.config.scanning import scan_options
from clamkit.daemon import lifecycle
from clamkit.daemon.ipc import JobResult, PoolSettings
from clamkit.daemon.listeners import Listener, ListenerError, close_listeners, open_listeners
from clamkit.daemon.log import DaemonLog
from clamkit.daemon.pool import LeaderSpawner, PoolRetired, PoolStartError, ScanPool
from clamkit.daemon.virusevent import run_virus_event
from clamkit.daemon.walk import (
    ACCESS_DENIED,
    EXCLUDED,
    OTHER_FILESYSTEM,
    Notice,
    ScanFile,
    WalkRules,
    argument_path,
    walk,
)
from clamkit.protocol import replies
from clamkit.protocol.framing import (
    CLOSED,
    NEED_DATA,
    Command,
    Reject,
    Request,
    ServerConnection,
    SessionEnded,
    SessionStarted,
    StreamChunk,
    StreamEnd,
    reply,
)

# How long shutdown waits for replies in flight before closing connections.
SHUTDOWN_GRACE_SECONDS = 5.0
ALLMATCH_DISABLED = "ALLMATCHSCAN command disabled by clamd configuration. ERROR"
# How often a connection with work in progress checks that its client is still there.
HANGUP_POLL_SECONDS = 0.25
_RECV_SIZE = 65536
_ANCILLARY_SIZE = socket.CMSG_SPACE(16 * 4)


@dataclass(slots=True)
class _Job:
    """A command in progress, as STATS lists it: its name, start and file name."""

    command: str
    started: float
    detail: str = ""


def scanner_count(config: Config) -> int:
    """How many scanner processes: scans are CPU-bound, so more than one per
    core only adds memory."""
    return max(1, min(config.number("MaxThreads"), os.cpu_count() or 1))


def pool_settings(config: Config) -> PoolSettings:
    """What the scanner processes need from the configuration."""
    return PoolSettings(
        database_dir=str(config.text("DatabaseDirectory")),
        detect_pua=config.flag("DetectPUA"),
        official_only=config.flag("OfficialDatabaseOnly"),
        workers=scanner_count(config),
        scan_options=scan_options(config),
        extended_detection_info=config.flag("ExtendedDetectionInfo"),
        clean_cache_entries=0 if config.flag("DisableCache") else config.number("CacheSize"),
        idle_timeout=config.number("IdleTimeout"),
    )


def _enabled_commands(config: Config) -> frozenset[Command]:
    disabled = {
        Command.SHUTDOWN: "EnableShutdownCommand",
        Command.RELOAD: "EnableReloadCommand",
        Command.STATS: "EnableStatsCommand",
        Command.VERSION: "EnableVersionCommand",
    }
    return frozenset(
        command for command in Command if command not in disabled or config.flag(disabled[command])
    )


class Daemon:
    """The state shared by all connections of one running daemon."""

    def __init__(
        self,
        config: Config,
        log: DaemonLog,
        spawner: LeaderSpawner,
        pool: ScanPool,
        listeners: list[Listener],
    ) -> None:
        self.config = config
        self.log = log
        self.spawner = spawner
        self.pool = pool
        self.listeners = listeners
        self.walk_rules = WalkRules.from_config(config)
        self.enabled_commands = _enabled_commands(config)
        self.stopping = asyncio.Event()
        self.clients: set[asyncio.Task[None]] = set()
        self.jobs: dict[object, _Job] = {}
        self.queue_slots = asyncio.Semaphore(max(1, config.number("MaxQueue")))
        # Cleared while a non-concurrent reload swaps engines: scans wait.
        self.scanning_allowed = asyncio.Event()
        self.scanning_allowed.set()
        self._reload: asyncio.Task[None] | None = None
        self._reload_again = False
        self._database_state = _database_state(Path(str(config.text("DatabaseDirectory"))))

    # -- scanning ---------------------------------------------------------

    async def scan(
        self,
        command: str,
        *,
        path: str | None = None,
        fd: int | None = None,
        allmatch: bool = False,
        gone: asyncio.Event | None = None,
    ) -> JobResult:
        """One object through the pool, listed in STATS while it waits and runs."""
        with self.job(command, path or ""):
            async with self.queue_slots:
                while True:
                    await self.scanning_allowed.wait()
                    with contextlib.suppress(PoolRetired):
                        return await self.pool.scan(path=path, fd=fd, allmatch=allmatch, gone=gone)

    @contextlib.contextmanager
    def job(self, command: str, detail: str = "") -> Iterator[None]:
        key = object()
        self.jobs[key] = _Job(command, time.monotonic(), detail)
        try:
            yield
        finally:
            del self.jobs[key]

    def detected(self, where: str, result: JobResult, path: str | None) -> None:
        """Log a detection (with ExtendedDetectionInfo's hash and size) and run VirusEvent."""
        extended = (result.md5, result.size) if result.md5 is not None else None
        for name in result.names:
            self.log.info(replies.found_line(where, name, extended))
        command = self.config.text("VirusEvent")
        if command and result.names:
            run_virus_event(command, result.names[0], path or where)

    def clean(self, where: str) -> None:
        if self.config.flag("LogClean"):
            self.log.info(f"{where}: OK")

    # -- reload -----------------------------------------------------------

    def request_reload(self) -> None:
        """Reload now, or once the reload under way is over.

        A request during a reload is not merged into it: the files may have
        changed after that reload read them.
        """
        if self._reload is None or self._reload.done():
            self._reload = asyncio.create_task(self._reload_database())
        else:
            self._reload_again = True

    async def _reload_database(self) -> None:
        self.log.info("Reading databases from " + str(self.config.text("DatabaseDirectory")))
        # ConcurrentDatabaseReload no: scans wait while the new engine loads.
        # Either way the old engine stays until the new one is ready, so a
        # failed load keeps it serving, as the reference does.
        if not self.config.flag("ConcurrentDatabaseReload"):
            self.scanning_allowed.clear()
        try:
            new = await self.spawner.start_pool(pool_settings(self.config))
        except PoolStartError as error:
            self.log.error(f"reload db failed: {error}")
            self.log.warning("Database reload failed, keeping the previous instance")
            new = None
        finally:
            self.scanning_allowed.set()
        if new is not None:
            old, self.pool = self.pool, new
            directory = Path(str(self.config.text("DatabaseDirectory")))
            self._database_state = _database_state(directory)
            self.log.info(f"Database correctly reloaded ({new.ready.signature_count} signatures)")
            await old.retire()
        if self._reload_again:
            self._reload_again = False
            self._reload = asyncio.create_task(self._reload_database())

    async def self_check(self) -> None:
        """SelfCheck: reload when the database directory changed."""
        interval = self.config.number("SelfCheck")
        if interval <= 0:
            return
        directory = Path(str(self.config.text("DatabaseDirectory")))
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), interval)
                return
            state = await asyncio.to_thread(_database_state, directory)
            if state != self._database_state:
                self.log.info("SelfCheck: Database modification detected. Forcing reload.")
                self.request_reload()
            else:
                self.log.verbose("SelfCheck: Database status OK.")

    # -- replies ----------------------------------------------------------

    def version_text(self) -> str:
        ready = self.pool.ready
        return replies.version_reply(__version__, ready.database_version, ready.database_time)

    def stats_text(self) -> str:
        now = time.monotonic()
        jobs = sorted(self.jobs.values(), key=lambda job: job.started)
        # The oldest jobs hold the scanner processes; the rest wait for one.
        running, waiting = jobs[: max(self.pool.live, 1)], jobs[max(self.pool.live, 1) :]
        snapshot = replies.StatsSnapshot(
            threads_live=len(running),
            threads_idle=max(0, self.pool.live - self.pool.busy),
            threads_max=self.config.number("MaxThreads"),
            idle_timeout=self.config.number("IdleTimeout"),
            queue_waits=tuple(now - job.started for job in waiting),
            jobs=tuple(replies.Job(job.command, now - job.started, job.detail) for job in running),
            memory=replies.MemoryFigures(
                pools_used=self.pool.resident_megabytes(),
                pools_total=self.pool.resident_megabytes(),
            ),
        )
        return replies.stats_reply(snapshot)


def _database_state(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of the database files: what SelfCheck compares."""
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        return tuple(
            (entry.name, entry.stat().st_size, entry.stat().st_mtime_ns)
            for entry in entries
            if entry.is_file()
        )
    except OSError:
        return ()


class _Client:
    """One client connection: bytes in, events out of the protocol, replies back."""

    def __init__(self, daemon: Daemon, sock: socket.socket, listener: Listener) -> None:
        self.daemon = daemon
        self.sock = sock
        self.unix = listener.kind == "unix"
        config = daemon.config
        self.protocol = ServerConnection(
            unix_socket=self.unix,
            stream_max_length=config.number("StreamMaxLength"),
            enabled_commands=daemon.enabled_commands,
        )
        self.loop = asyncio.get_running_loop()
        self.write_lock = asyncio.Lock()
        self.gone = asyncio.Event()
        self.background: set[asyncio.Task[None]] = set()
        self.background_limit = max(1, config.number("MaxQueue"))
        self.spool: IO[bytes] | None = None
        self.stream_size = 0

    async def run(self) -> None:
        watcher = asyncio.create_task(self._watch_hangup())
        try:
            await self._converse()
            # Whatever the way out, replies still owed are written first.
            if self.background:
                await asyncio.gather(*self.background, return_exceptions=True)
        except (ConnectionError, OSError):
            self.gone.set()
        finally:
            watcher.cancel()
            for task in self.background:
                task.cancel()
            if self.spool is not None:
                self.spool.close()
            for fd in self.protocol.take_unclaimed_fds():
                os.close(fd)
            self.sock.close()

    async def _converse(self) -> None:
        protocol = self.protocol
        while True:
            event = protocol.next_event()
            if event is NEED_DATA:
                if not await self._receive():
                    return
            elif event is CLOSED:
                return
            elif isinstance(event, Reject):
                if event.drop_pending:
                    for task in self.background:
                        task.cancel()
                if event.reply:
                    await self._send(event.reply)
            elif isinstance(event, Request):
                if event.command is Command.INSTREAM:
                    self._open_spool()
                elif event.command in _SCANS:
                    # Scans run alongside the reading, as clamd hands them to
                    # a thread: what the protocol says next goes out first.
                    await self._in_background(self._execute(event))
                else:
                    await self._execute(event)
            elif isinstance(event, StreamChunk):
                self._spool_write(event.data)
            elif isinstance(event, StreamEnd):
                spool, self.spool = self.spool, None
                assert spool is not None
                await self._in_background(self._scan_stream(event.request, spool))
            elif isinstance(event, SessionEnded) and self.background:
                await asyncio.gather(*self.background, return_exceptions=True)
            elif isinstance(event, SessionStarted):
                continue

    async def _watch_hangup(self) -> None:
        """Set ``gone`` when the client closes its end entirely, so its scans stop.

        A client that only shuts down its sending side still waits for its
        replies; on a Unix socket the kernel tells the two apart (POLLHUP
        only for a full close).  Over TCP a full close shows only once a
        reply cannot be written.
        """
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLHUP | select.POLLERR)
        while not self.gone.is_set():
            if poller.poll(0):
                self.gone.set()
                return
            await asyncio.sleep(HANGUP_POLL_SECONDS)

    async def _in_background(self, work: Awaitable[None]) -> None:
        """Run a scan while the connection goes on being read.

        At most MaxQueue of one connection's scans are under way; past that
        the client is not read until one finishes, so a client pipelining
        without end costs bounded memory and nobody else's turn.
        """
        while len(self.background) >= self.background_limit:
            await asyncio.wait(self.background, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    # -- input ------------------------------------------------------------

    def _timeout(self) -> float | None:
        config = self.daemon.config
        waiting = self.protocol.waiting_for
        seconds = config.number("CommandReadTimeout" if waiting == "command" else "ReadTimeout")
        return seconds if seconds > 0 else None

    async def _receive(self) -> bool:
        """One recv into the protocol; False when the client timed out."""
        try:
            data, fds = await asyncio.wait_for(self._recv(), self._timeout())
        except TimeoutError:
            await self._send(replies.READ_TIMED_OUT)
            return False
        self.protocol.receive_data(data, fds)
        return True

    async def _recv(self) -> tuple[bytes, list[int]]:
        while True:
            try:
                if self.unix:
                    data, ancillary, _, _ = self.sock.recvmsg(_RECV_SIZE, _ANCILLARY_SIZE)
                    return data, _descriptors(ancillary)
                return self.sock.recv(_RECV_SIZE), []
            except BlockingIOError:
                await _readable(self.loop, self.sock)

    def _open_spool(self) -> None:
        directory = self.daemon.config.text("TemporaryDirectory") or None
        # Closed when the stream has been scanned, or when the connection ends.
        self.spool = tempfile.TemporaryFile(prefix="clamkit-stream-", dir=directory)  # noqa: SIM115

    def _spool_write(self, data: bytes | memoryview) -> None:
        assert self.spool is not None
        self.spool.write(data)

    # -- output -----------------------------------------------------------

    async def _send(self, data: bytes) -> None:
        """One reply in one write; a client that does not read it in time is dropped."""
        timeout_ms = self.daemon.config.number("SendBufTimeout")
        async with self.write_lock:
            try:
                await asyncio.wait_for(
                    self.loop.sock_sendall(self.sock, data),
                    timeout_ms / 1000 if timeout_ms > 0 else None,
                )
            except (TimeoutError, OSError):
                self._hang_up()
                raise ConnectionResetError from None

    def _hang_up(self) -> None:
        """Give up on this client: its scans stop and the reading side sees the end."""
        self.gone.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    async def _reply(self, request: Request, text: str) -> None:
        await self._send(reply(request, text))

    # -- commands ---------------------------------------------------------

    async def _execute(self, request: Request) -> None:
        handler = _HANDLERS.get(request.command)
        if handler is not None:
            try:
                await handler(self, request)
            except ConnectionResetError:
                self.gone.set()
            finally:
                if request.fd is not None:
                    os.close(request.fd)

    async def _ping(self, request: Request) -> None:
        await self._reply(request, replies.PONG)

    async def _version(self, request: Request) -> None:
        await self._reply(request, self.daemon.version_text())

    async def _versioncommands(self, request: Request) -> None:
        await self._reply(request, replies.versioncommands_reply(self.daemon.version_text()))

    async def _stats(self, request: Request) -> None:
        with self.daemon.job("STATS"):
            text = self.daemon.stats_text()
        await self._reply(request, text)

    async def _reload(self, request: Request) -> None:
        self.daemon.request_reload()
        await self._reply(request, replies.RELOADING)

    async def _shutdown(self, request: Request) -> None:
        self.daemon.stopping.set()

    async def _scan_stream(self, request: Request, spool: IO[bytes]) -> None:
        try:
            spool.flush()
            result = await self.daemon.scan("INSTREAM", fd=spool.fileno(), gone=self.gone)
        finally:
            spool.close()
        await self._report(request, replies.STREAM_NAME, result, None)

    async def _fildes(self, request: Request) -> None:
        assert request.fd is not None
        where = replies.descriptor_name(request.fd)
        result = await self.daemon.scan("FILDES", fd=request.fd, gone=self.gone)
        await self._report(request, where, result, None)

    async def _report(
        self, request: Request, where: str, result: JobResult, path: str | None
    ) -> bool:
        """Reply with a scan's outcome for one object; True when something was found.

        ``path`` is None for INSTREAM and FILDES, whose clean result is a line
        of its own; a file of a SCAN family command only answers when found
        (or failed), the command's summary line speaks for the clean ones.
        """
        if result.error is not None:
            await self._reply(request, f"{where}: {_error_text(result)}")
            return False
        if not result.names:
            self.daemon.clean(where)
            if path is None:
                await self._reply(request, replies.ok_line(where))
            return False
        self.daemon.detected(where, result, path)
        for name in result.names:
            await self._reply(request, replies.found_line(where, name))
        return True

    async def _scan_paths(self, request: Request) -> None:
        """SCAN, CONTSCAN, MULTISCAN and ALLMATCHSCAN of a file or a directory tree."""
        command = request.command
        top = request.argument or ""
        if command is Command.ALLMATCHSCAN and not self.daemon.config.flag("AllowAllMatchScan"):
            await self._reply(request, f"{top}: {ALLMATCH_DISABLED}")
            return
        items = await asyncio.to_thread(list, walk(top, self.daemon.walk_rules))
        allmatch = command is Command.ALLMATCHSCAN
        stop_at_first = command in (Command.SCAN, Command.ALLMATCHSCAN)
        found = False

        async def one(path: str) -> bool:
            result = await self.daemon.scan(
                command.name, path=path, allmatch=allmatch, gone=self.gone
            )
            return await self._report(request, path, result, path)

        if command is Command.MULTISCAN:
            files = [item.path for item in items if isinstance(item, ScanFile)]
            notices = [item for item in items if isinstance(item, Notice)]
            # The reference's MULTISCAN of a directory without a file to
            # scan (empty, excluded, unreadable, a symlink to one) ends
            # without an OK line.
            nothing_to_scan = not files and (
                any(notice.text == EXCLUDED for notice in notices)
                or await asyncio.to_thread(os.path.isdir, top)
            )
            # Notices first, except the exclusions MULTISCAN keeps quiet
            # about; the files' lines come as their scans finish.
            for notice in notices:
                if notice.text not in (EXCLUDED, OTHER_FILESYSTEM):
                    await self._reply(request, f"{notice.path}: {notice.text}")
                    if notice.final:
                        return
            if nothing_to_scan:
                return
            found = any(await asyncio.gather(*(one(path) for path in files)))
        else:
            # The reference answers in walk order, notices between results,
            # and scans one file at a time.  clamkit scans a few files ahead on
            # every worker and still answers in walk order; what SCAN's first
            # detection makes moot is cancelled unreported.
            ahead = 2 * scanner_count(self.daemon.config)
            upcoming = iter(items)
            pending: collections.deque[
                tuple[ScanFile | Notice, asyncio.Future[JobResult] | None]
            ] = collections.deque()

            def look_ahead() -> None:
                while len(pending) < ahead:
                    item = next(upcoming, None)
                    if item is None:
                        return
                    scanning = (
                        asyncio.ensure_future(
                            self.daemon.scan(
                                command.name, path=item.path, allmatch=allmatch, gone=self.gone
                            )
                        )
                        if isinstance(item, ScanFile)
                        else None
                    )
                    pending.append((item, scanning))

            try:
                look_ahead()
                while pending:
                    item, scanning = pending.popleft()
                    if self.gone.is_set():
                        return
                    if scanning is None:
                        await self._reply(request, f"{item.path}: {item.text}")
                        if item.final:
                            return
                    elif await self._report(request, item.path, await scanning, item.path):
                        found = True
                        if stop_at_first:
                            break
                    look_ahead()
            finally:
                for _, scanning in pending:
                    if scanning is not None:
                        scanning.cancel()
        if not found:
            await self._reply(request, replies.ok_line(argument_path(top)))


_SCANS = frozenset(
    {Command.SCAN, Command.CONTSCAN, Command.MULTISCAN, Command.ALLMATCHSCAN, Command.FILDES}
)

_HANDLERS: dict[Command, Callable[[_Client, Request], Awaitable[None]]] = {
    Command.PING: _Client._ping,
    Command.VERSION: _Client._version,
    Command.VERSIONCOMMANDS: _Client._versioncommands,
    Command.STATS: _Client._stats,
    Command.RELOAD: _Client._reload,
    Command.SHUTDOWN: _Client._shutdown,
    Command.SCAN: _Client._scan_paths,
    Command.CONTSCAN: _Client._scan_paths,
    Command.MULTISCAN: _Client._scan_paths,
    Command.ALLMATCHSCAN: _Client._scan_paths,
    Command.FILDES: _Client._fildes,
}


def _error_text(result: JobResult) -> str:
    """The reply text for an object the scanner could not read."""
    if result.errno in (errno.EACCES, errno.EPERM):
        return ACCESS_DENIED
    return f"{result.error}. ERROR"


def _descriptors(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    fds = array.array("i")
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    return list(fds)


async def _readable(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    ready = loop.create_future()
    loop.add_reader(sock.fileno(), lambda: ready.done() or ready.set_result(None))
    try:
        await ready
    finally:
        loop.remove_reader(sock.fileno())


async def _accept(daemon: Daemon, listener: Listener) -> None:
    loop = asyncio.get_running_loop()
    while not daemon.stopping.is_set():
        try:
            sock, _ = await loop.sock_accept(listener.sock)
        except OSError as error:
            # Out of descriptors or a transient network fault: keep serving others.
            daemon.log.error(f"accept() failed: {error.strerror}")
            await asyncio.sleep(0.1)
            continue
        sock.setblocking(False)
        task = asyncio.create_task(_Client(daemon, sock, listener).run())
        daemon.clients.add(task)
        task.add_done_callback(daemon.clients.discard)


def _failed(log: DaemonLog, notice: lifecycle.ReadyNotice, message: str, status: int = 1) -> int:
    """Start-up failed: log it, tell whoever waits for readiness, and give the exit status."""
    log.error(message)
    notice.failed(message, status)
    return status


async def _serve(config: Config, log: DaemonLog, notice: lifecycle.ReadyNotice) -> int:
    try:
        # As the reference: the daemon's user loads the database and owns
        # the socket it binds.
        if user := config.text("User"):
            lifecycle.drop_privileges(user, log)
    except lifecycle.LifecycleError as error:
        return _failed(log, notice, str(error))
    log.info(f"Reading databases from {config.text('DatabaseDirectory')}", terminal=False)
    try:
        spawner = await LeaderSpawner.start()
    except PoolStartError as error:
        return _failed(log, notice, str(error))
    try:
        return await _serve_with(config, log, notice, spawner)
    finally:
        await spawner.close()


async def _serve_with(
    config: Config, log: DaemonLog, notice: lifecycle.ReadyNotice, spawner: LeaderSpawner
) -> int:
    try:
        pool = await spawner.start_pool(pool_settings(config))
    except PoolStartError as error:
        return _failed(log, notice, str(error))
    log.info(f"Loaded {pool.ready.signature_count} signatures.", terminal=False)
    for warning in pool.ready.warnings:
        log.warning(warning)
    try:
        listeners = open_listeners(config, log)
    except (OSError, ListenerError) as error:
        await pool.retire()
        return _failed(log, notice, str(error))
    pid_file = config.text("PidFile")
    daemon = Daemon(config, log, spawner, pool, listeners)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, daemon.stopping.set)
    loop.add_signal_handler(signal.SIGINT, daemon.stopping.set)
    loop.add_signal_handler(signal.SIGHUP, _reopen_log, log)
    loop.add_signal_handler(signal.SIGUSR2, daemon.request_reload)
    try:
        if pid_file:
            lifecycle.write_pid_file(pid_file)
    except lifecycle.LifecycleError as error:
        close_listeners(listeners, log)
        await pool.retire()
        return _failed(log, notice, str(error), status=2)
    try:
        if config.number("SelfCheck") > 0:
            log.info(f"Self checking every {config.number('SelfCheck')} seconds.")
        log.verbose(f"Listening daemon: PID: {os.getpid()}")
        log.verbose(f"MaxQueue set to: {config.number('MaxQueue')}")
        notice.ready()
        background = [asyncio.create_task(_accept(daemon, listener)) for listener in listeners]
        background.append(asyncio.create_task(daemon.self_check()))
        await daemon.stopping.wait()
        log.verbose("Waiting for all threads to finish")
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        log.info("Shutting down the main socket.")
        if daemon.clients:
            _, unfinished = await asyncio.wait(daemon.clients, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        await daemon.pool.retire()
    finally:
        if pid_file and lifecycle.remove_pid_file(pid_file):
            log.info("Pid file removed.")
        log.info(f"--- Stopped at {time.ctime()}")
        log.info("Closing the main socket.")
        close_listeners(listeners, log)
    return 0


def _reopen_log(log: DaemonLog) -> None:
    log.reopen()
    log.info("SIGHUP caught: re-opening log file.")


def raise_descriptor_limit() -> int:
    """Lift the soft limit on open descriptors to the hard one; the new soft limit.

    Every client holds a descriptor (and a spooled INSTREAM a second one),
    so the common soft limit of 1024 would cap the connections served far
    below MaxConnectionQueueLength and what the machine allows.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # Linux refuses an infinite descriptor limit: the kernel's cap stands for it.
    target = _kernel_descriptor_cap() if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _kernel_descriptor_cap() -> int:
    try:
        return int(Path("/proc/sys/fs/nr_open").read_text())
    except (OSError, ValueError):
        return 1 << 20


def run_daemon(config: Config, log: DaemonLog) -> int:
    """Run clamd with ``config`` until it is told to stop; the exit status."""
    for warning in unacted_warnings(config):
        log.warning(warning)
    raise_descriptor_limit()
    notice = lifecycle.detach(foreground=config.flag("Foreground"))
    return asyncio.run(_serve(config, log, notice))
