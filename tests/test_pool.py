"""The network side of the scanner processes, without processes: idle workers
(most recently used first, stopped after IdleTimeout, never lost) and a
spawner that cannot be reached."""

from __future__ import annotations

import asyncio
import socket

import pytest

from clamkit.daemon import pool
from clamkit.daemon.ipc import Channel, PoolSettings
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
