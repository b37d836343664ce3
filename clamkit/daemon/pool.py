"""The network process's handle on the scanner processes.

``LeaderSpawner.start`` runs the spawner (``clamkit.daemon.worker``) once;
``start_pool`` has it fork a pool leader, which loads the database, and
returns the ``ScanPool`` once the engine is ready, or raises
``PoolStartError`` with the reason.  ``scan`` hands one object (a path or a
descriptor) to an idle worker and waits for its result, so the event loop
never scans.  A reload starts a new pool and ``retire``s the old one: its
workers finish the jobs they hold, then their sockets close and they exit.

Workers come and go as the reference's scanning threads do: the leader
forks all of them at first; one idle for ``IdleTimeout`` seconds is stopped
(its socket closed), and when a scan finds none idle the pool asks the
leader for another, up to the pool's size.  This side decides both, so a
job is never sent to a worker that is leaving.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import clamkit
from clamkit.daemon.ipc import (
    AddWorker,
    CancelJob,
    Channel,
    ChannelClosed,
    JobResult,
    PoolFailed,
    PoolReady,
    PoolSettings,
    ScanJob,
    StartLeader,
    WorkerAdded,
    WorkerNotAdded,
)

# Reply text when a worker process dies under a job (the kernel's OOM
# killer, a fault in a C extension): the job fails, the daemon carries on.
WORKER_LOST = "Scanner process lost"
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# After the leader failed to fork a worker, ask again this much later.
RETRY_WORKER_SECONDS = 1.0


class PoolStartError(Exception):
    """The pool could not load its database; the message says why."""


class PoolRetired(Exception):
    """The pool was retired while a scan waited for a worker: scan on the current pool."""


@dataclass(slots=True, eq=False)
class _Worker:
    pid: int
    channel: Channel
    # The read of the job's answer under way: kept across a cancelled scan,
    # so an answer that arrived as the scan was cancelled is not lost
    # (and the reclaim that follows does not wait for it forever).
    answer: asyncio.Future[tuple[object, list[int]]] | None = None

    def next_answer(self) -> asyncio.Future[tuple[object, list[int]]]:
        if self.answer is None:
            self.answer = asyncio.ensure_future(self.channel.receive())
        return self.answer


class _IdleWorkers:
    """Idle workers, the most recently used first; each is handed to
    ``expire`` once it has stayed idle ``timeout`` seconds."""

    def __init__(self, timeout: float, expire: Callable[[_Worker], None]) -> None:
        self._timeout = timeout
        self._expire = expire
        self._stack: list[_Worker] = []
        self._timers: dict[_Worker, asyncio.TimerHandle] = {}
        self._waiters: collections.deque[asyncio.Future[_Worker]] = collections.deque()
        self._loop = asyncio.get_running_loop()

    def __len__(self) -> int:
        return len(self._stack)

    @property
    def waiting(self) -> int:
        """Scans waiting for a worker."""
        return sum(not waiter.done() for waiter in self._waiters)

    def put(self, worker: _Worker) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        self._stack.append(worker)
        self._timers[worker] = self._loop.call_later(self._timeout, self._expired, worker)

    async def get(self) -> _Worker:
        if self._stack:
            worker = self._stack.pop()
            self._timers.pop(worker).cancel()
            return worker
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            # Handed a worker just as the wait was cancelled: keep it.
            if waiter.done() and not waiter.cancelled():
                self.put(waiter.result())
            raise

    def take_all(self) -> list[_Worker]:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        taken, self._stack = self._stack, []
        return taken

    def _expired(self, worker: _Worker) -> None:
        del self._timers[worker]
        self._stack.remove(worker)
        self._expire(worker)


class LeaderSpawner:
    """The spawner process, which forks every pool leader.

    Started once, before the first pool; if it has died since (the OOM
    killer), the next ``start_pool`` starts another.
    """

    def __init__(self, process: asyncio.subprocess.Process, channel: Channel) -> None:
        self._process = process
        self._channel = channel

    @classmethod
    async def start(cls) -> LeaderSpawner:
        return cls(*await _run_spawner())

    async def start_pool(self, settings: PoolSettings) -> ScanPool:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            try:
                await self._channel.send(StartLeader(), (theirs.fileno(),))
            except ChannelClosed:
                await self.close()
                self._process, self._channel = await _run_spawner()
                await self._channel.send(StartLeader(), (theirs.fileno(),))
        except PoolStartError:
            ours.close()
            raise
        except ChannelClosed:
            ours.close()
            raise PoolStartError("Can't start a scanner process: the spawner exited") from None
        finally:
            theirs.close()
        control = Channel(ours)
        try:
            await control.send(settings)
            reply, _ = await control.receive()
        except ChannelClosed:
            reply = PoolFailed("the scanner process exited while loading the database")
        if not isinstance(reply, PoolReady):
            control.close()
            message = reply.message if isinstance(reply, PoolFailed) else repr(reply)
            raise PoolStartError(message)
        return ScanPool(control, reply, settings)

    async def close(self) -> None:
        """Stop the spawner (the leaders it forked live on until retired)."""
        self._channel.close()
        await self._process.wait()


async def _run_spawner() -> tuple[asyncio.subprocess.Process, Channel]:
    """Start a spawner process: it and the network process's end of its socket."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    # The scanner processes run the very package this process imported,
    # wherever it lives (an installed wheel or a source checkout).
    package_root = str(Path(clamkit.__file__).resolve().parent.parent)
    search_path = os.pathsep.join(filter(None, (package_root, os.environ.get("PYTHONPATH"))))
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "clamkit.daemon.worker",
            str(theirs.fileno()),
            pass_fds=(theirs.fileno(),),
            stdin=asyncio.subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": search_path},
        )
    except OSError as error:
        # The interpreter cannot be run (the User switch dropped the
        # right to execute it, or processes ran out): say so, not a traceback.
        ours.close()
        raise PoolStartError(
            f"Can't start a scanner process ({sys.executable}): {error.strerror}"
        ) from None
    finally:
        theirs.close()
    return process, Channel(ours)


class ScanPool:
    """Scanner processes that share one compiled engine."""

    def __init__(self, control: Channel, ready: PoolReady, settings: PoolSettings) -> None:
        self.ready = ready
        self._control = control
        self._size = settings.workers
        self._idle = _IdleWorkers(settings.idle_timeout, self._discard)
        self._workers: set[_Worker] = set()
        # Workers the leader is forking: all of them at first.
        self._coming = settings.workers
        self._requests: set[asyncio.Future[None]] = set()
        self._busy = 0
        self._retired = asyncio.Event()
        self._drained = asyncio.Event()
        self._job_ids = itertools.count(1)
        self._reclaiming: set[asyncio.Future[None]] = set()
        self._watcher = asyncio.create_task(self._watch_control())

    @property
    def live(self) -> int:
        return len(self._workers)

    @property
    def busy(self) -> int:
        return self._busy

    def resident_megabytes(self) -> float:
        """Resident memory of this pool's processes, for STATS' MEMSTATS line.

        Pages the workers share with the leader are counted once per process,
        so this overstates what the pool costs; it never understates it.
        """
        total = 0
        for pid in (self.ready.leader_pid, *(worker.pid for worker in self._workers)):
            try:
                with open(f"/proc/{pid}/statm") as statm:
                    total += int(statm.read().split()[1]) * _PAGE_SIZE
            except (OSError, ValueError, IndexError):
                continue
        return total / (1024 * 1024)

    async def _watch_control(self) -> None:
        """Take each new worker's socket as the leader announces it."""
        while True:
            try:
                message, fds = await self._control.receive()
            except ChannelClosed:
                return
            if isinstance(message, WorkerAdded | WorkerNotAdded):
                self._coming -= 1
            if isinstance(message, WorkerAdded) and fds:
                worker = _Worker(message.pid, Channel(socket.socket(fileno=fds[0])))
                for extra in fds[1:]:
                    socket.close(extra)
                if self._retired.is_set():
                    worker.channel.close()
                    continue
                self._workers.add(worker)
                self._idle.put(worker)
            else:
                for fd in fds:
                    socket.close(fd)
                if isinstance(message, WorkerNotAdded):
                    asyncio.get_running_loop().call_later(
                        RETRY_WORKER_SECONDS, self._grow_if_waited_for
                    )

    def _grow_if_waited_for(self) -> None:
        if self._idle.waiting and not len(self._idle):
            self._grow()

    def _grow(self) -> None:
        """Ask the leader for one more worker, unless the pool is full or retired."""
        if self._retired.is_set() or len(self._workers) + self._coming >= self._size:
            return
        self._coming += 1
        request = asyncio.ensure_future(self._ask_for_worker())
        self._requests.add(request)
        request.add_done_callback(self._requests.discard)

    async def _ask_for_worker(self) -> None:
        with contextlib.suppress(ChannelClosed):  # the leader is gone: nothing to grow
            await self._control.send(AddWorker())

    async def scan(
        self,
        *,
        path: str | None = None,
        fd: int | None = None,
        allmatch: bool = False,
        gone: asyncio.Event | None = None,
    ) -> JobResult:
        """Scan ``path`` (or the descriptor ``fd``, which stays the caller's to close).

        ``gone`` is set when the client has left: the worker is told to stop.
        """
        job = ScanJob(next(self._job_ids), path, allmatch)
        descriptors = (fd,) if fd is not None else ()
        while True:
            worker = await self._next_idle()
            try:
                await worker.channel.send(job, descriptors)
                break
            except ChannelClosed:
                # It died while idle: try the next one (or have one forked).
                self._discard(worker)
        self._busy += 1
        try:
            result = await self._result(worker, job.job_id, gone)
        except ChannelClosed:
            self._discard(worker)
            return JobResult(job.job_id, error=WORKER_LOST)
        except asyncio.CancelledError:
            # The caller gave up (its connection was dropped, or shutdown's
            # grace ran out) but the worker still holds the job: without
            # taking it back the pool would shrink for good and retire()
            # would wait for it forever.
            self._reclaim(worker, job.job_id)
            raise
        finally:
            self._busy -= 1
        self._release(worker)
        return result

    async def _next_idle(self) -> _Worker:
        """An idle worker, or PoolRetired once this pool is retired.

        A scan that chose this pool just before a reload would otherwise wait
        for an idle worker that never comes: retired workers are not put back.
        """
        if not len(self._idle):
            self._grow()
        getting = asyncio.ensure_future(self._idle.get())
        retiring = asyncio.ensure_future(self._retired.wait())
        try:
            await asyncio.wait({getting, retiring}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            if getting.done():
                self._release(getting.result())
            getting.cancel()
            raise
        finally:
            retiring.cancel()
        if not getting.done():
            getting.cancel()
            raise PoolRetired
        worker = getting.result()
        if self._retired.is_set():
            self._discard(worker)
            raise PoolRetired
        return worker

    def _release(self, worker: _Worker) -> None:
        if self._retired.is_set():
            self._discard(worker)
        else:
            self._idle.put(worker)

    def _reclaim(self, worker: _Worker, job_id: int) -> None:
        """Cancel the worker's job and put it back once it has answered."""

        async def reclaim() -> None:
            try:
                await worker.channel.send(CancelJob(job_id))
                await self._result(worker, job_id, None)
            except ChannelClosed:
                self._discard(worker)
                return
            self._release(worker)

        task = asyncio.ensure_future(reclaim())
        self._reclaiming.add(task)
        task.add_done_callback(self._reclaiming.discard)

    async def _result(self, worker: _Worker, job_id: int, gone: asyncio.Event | None) -> JobResult:
        receiving = worker.next_answer()
        if gone is not None:
            leaving = asyncio.ensure_future(gone.wait())
            try:
                # asyncio.wait leaves ``receiving`` running when this is cancelled.
                done, _ = await asyncio.wait(
                    {receiving, leaving}, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                leaving.cancel()
            if receiving not in done:
                await worker.channel.send(CancelJob(job_id))
        message, fds = await asyncio.shield(receiving)
        worker.answer = None
        for fd in fds:
            socket.close(fd)
        if not isinstance(message, JobResult):
            raise ChannelClosed
        return message

    def _discard(self, worker: _Worker) -> None:
        self._workers.discard(worker)
        if worker.answer is not None:
            worker.answer.cancel()
        worker.channel.close()
        if not self._workers and self._retired.is_set():
            self._drained.set()

    async def retire(self) -> None:
        """Let running jobs finish, then stop every process of this pool."""
        self._retired.set()
        for worker in self._idle.take_all():
            self._discard(worker)
        if self._workers:
            await self._drained.wait()
        # The leader stops forking workers at the end of its control
        # stream and exits once its workers have; its exit closes the
        # socket, which ends the watcher.  (The watcher must be gone before
        # the socket closes, or its registration outlives the descriptor and
        # silences whatever socket reuses the number next.)
        self._control.stop_sending()
        with contextlib.suppress(asyncio.CancelledError):
            await self._watcher
        self._control.close()
