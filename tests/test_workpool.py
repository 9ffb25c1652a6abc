"""The request path's worker pool: results, errors, concurrency, ordering, cancellation, close."""

from __future__ import annotations

import threading
import time

import pytest
import trio

from kmsd.server.workpool import WorkerPool


async def test_returns_results_and_raises_errors_of_the_job() -> None:
    pool = WorkerPool(2)
    try:
        assert await pool.run(lambda a, b: a + b, 2, 3) == 5
        with pytest.raises(ZeroDivisionError):
            await pool.run(lambda: 1 / 0)
        assert await pool.run(threading.get_ident) != threading.get_ident()  # not on the event loop
    finally:
        pool.close()


async def test_runs_up_to_max_threads_at_once_and_queues_the_rest() -> None:
    pool = WorkerPool(3)
    lock = threading.Lock()
    running = peak = 0
    gate = threading.Event()

    def job() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        gate.wait(10)
        with lock:
            running -= 1

    try:
        async with trio.open_nursery() as nursery:
            for _ in range(7):
                nursery.start_soon(pool.run, job)
            with trio.fail_after(10):
                while peak < 3:
                    await trio.sleep(0.01)
            await trio.sleep(0.1)  # give a fourth thread the chance to (wrongly) start
            assert pool.threads == 3 and peak == 3
            gate.set()
        assert running == 0
    finally:
        pool.close()


async def test_threads_are_reused() -> None:
    pool = WorkerPool(8)
    try:
        idents = {await pool.run(threading.get_ident) for _ in range(50)}
        assert len(idents) == 1 and pool.threads == 1
    finally:
        pool.close()


async def test_a_submitted_job_finishes_even_if_its_caller_is_cancelled() -> None:
    pool = WorkerPool(1)
    finished = threading.Event()

    def slow() -> str:
        time.sleep(0.2)
        finished.set()
        return "done"

    try:
        with trio.move_on_after(0.05) as scope:
            assert await pool.run(slow) == "done"
        # Like to_thread.run_sync without abandon_on_cancel: the caller waited for the job.
        assert finished.is_set() and not scope.cancelled_caught
    finally:
        pool.close()


async def test_a_caller_cancelled_before_submitting_submits_nothing() -> None:
    pool = WorkerPool(1)
    calls: list[int] = []
    try:
        with trio.CancelScope() as scope:
            scope.cancel()
            await pool.run(calls.append, 1)
        assert scope.cancelled_caught and calls == [] and pool.threads == 0
    finally:
        pool.close()


async def test_close_ends_the_threads_and_refuses_new_jobs() -> None:
    pool = WorkerPool(2)
    await pool.run(lambda: None)
    pool.close()
    pool.close()  # idempotent
    with pytest.raises(RuntimeError):
        await pool.run(lambda: None)


def test_at_least_one_thread() -> None:
    with pytest.raises(ValueError):
        WorkerPool(0)
