"""The network side of the scanner processes, without processes: idle workers
(most recently used first, stopped after IdleTimeout, never lost) and a
spawner that cannot be reached."""

from __future__ import annotations

import asyncio
import socket

import pytest

from clamkit.daemon import pool
from clamkit.daemon.ipc import CancelJob, Channel, JobResult, PoolReady, PoolSettings
from clamkit.daemon.pool import LeaderSpawner, PoolStartError, _IdleWorkers, _Worker
from clamkit.engine.options import DEFAULT_OPTIONS


def _worker(pid: int) -> _Worker:
    return _Worker(pid, channel=None)  # type: ignore[arg-type]


def test_the_most_recently_used_worker_goes_first_and_idle_ones_expire() -> None:
    async def run() -> None:
        expired: list[int] = []
        idle = _IdleWorkers(0.05, lambda worker: expired.append(worker.pid))
        first, second = _worker(1), _worker(2)
        idle.put(first)
        idle.put(second)
        assert (await idle.get()).pid == 2
        await asyncio.sleep(0.15)
        # The one left idle expired; the one taken did not.
        assert expired == [1]
        assert len(idle) == 0
        idle.put(second)
        assert [worker.pid for worker in idle.take_all()] == [2]
        await asyncio.sleep(0.1)
        assert expired == [1]

    asyncio.run(run())


def test_a_waiting_scan_gets_the_next_worker_and_a_cancelled_one_loses_none() -> None:
    async def run() -> None:
        idle = _IdleWorkers(10, lambda worker: None)
        waiting = asyncio.ensure_future(idle.get())
        await asyncio.sleep(0)
        assert idle.waiting == 1
        idle.put(_worker(3))
        assert (await waiting).pid == 3
        # Handed a worker, then cancelled before it ran: the worker stays idle.
        cancelled = asyncio.ensure_future(idle.get())
        await asyncio.sleep(0)
        idle.put(_worker(4))
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        assert idle.waiting == 0
        assert [worker.pid for worker in idle.take_all()] == [4]

    asyncio.run(run())


class _ExitedProcess:
    async def wait(self) -> int:
        return 0


def _dead_spawner() -> tuple[_ExitedProcess, Channel]:
    """A spawner process that has exited, and the closed end of its socket."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    theirs.close()
    return _ExitedProcess(), Channel(ours)


def test_a_spawner_that_is_gone_is_started_again_or_the_pool_start_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = PoolSettings("/nonexistent", False, False, 1, DEFAULT_OPTIONS, False)

    async def run() -> None:
        started: list[tuple[_ExitedProcess, Channel]] = []

        async def start_another() -> tuple[_ExitedProcess, Channel]:
            started.append(_dead_spawner())
            return started[-1]

        monkeypatch.setattr(pool, "_run_spawner", start_another)
        # The new spawner is gone too: an error for the log, not ChannelClosed.
        spawner = LeaderSpawner(*_dead_spawner())  # type: ignore[arg-type]
        with pytest.raises(PoolStartError, match="spawner exited"):
            await spawner.start_pool(settings)
        assert len(started) == 1
        await spawner.close()

    asyncio.run(run())


class _ScriptedChannel:
    """A worker's or leader's channel: records what is sent, answers from a queue."""

    def __init__(self) -> None:
        self.sent: list[object] = []
        self.answers: asyncio.Queue[tuple[object, list[int]]] = asyncio.Queue()

    async def send(self, message: object, fds: tuple[int, ...] = ()) -> None:
        self.sent.append(message)

    async def receive(self) -> tuple[object, list[int]]:
        return await self.answers.get()

    def close(self) -> None:
        pass


def test_an_answer_that_arrives_as_its_scan_is_cancelled_frees_the_worker() -> None:
    """The answer is read, then the scan is cancelled before it resumes (its
    client left): the worker must go back to idle, not wait forever for an
    answer already taken."""

    async def run() -> None:
        settings = PoolSettings("/nonexistent", False, False, 1, DEFAULT_OPTIONS, False)
        ready = PoolReady(1, signature_count=0, database_version=None, database_time=None)
        scan_pool = pool.ScanPool(_ScriptedChannel(), ready, settings)  # type: ignore[arg-type]
        worker = _Worker(2, _ScriptedChannel())  # type: ignore[arg-type]
        scan_pool._coming = 0
        scan_pool._workers.add(worker)
        scan_pool._idle.put(worker)
        channel: _ScriptedChannel = worker.channel  # type: ignore[assignment]
        scan = asyncio.ensure_future(scan_pool.scan(path="/scanned"))
        while not channel.sent:
            await asyncio.sleep(0)
        (job,) = channel.sent
        channel.answers.put_nowait((JobResult(job.job_id, names=("Found",)), []))
        # Each turn of the loop runs one step: the answer is taken in one, the
        # scan would resume in the next; this cancels it between the two.
        while not channel.answers.empty():
            await asyncio.sleep(0)
        scan.cancel()
        with pytest.raises(asyncio.CancelledError):
            await scan
        for _ in range(100):
            if len(scan_pool._idle) == 1:
                break
            await asyncio.sleep(0.01)
        assert len(scan_pool._idle) == 1, "the worker waits for an answer it was already given"
        assert channel.sent[1:] == [CancelJob(job.job_id)]
        # And the next scan gets it and its own answer.
        second = asyncio.ensure_future(scan_pool.scan(path="/next"))
        while len(channel.sent) < 3:
            await asyncio.sleep(0)
        channel.answers.put_nowait((JobResult(channel.sent[2].job_id), []))
        assert (await second).names == ()

    asyncio.run(run())
