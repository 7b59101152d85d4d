"""Where independent tasks run: a Dask cluster (local by default) or this process.

`executor()` yields a standard `concurrent.futures.Executor` and how many tasks it runs at
once, so the code that submits work (`generation.generate`) knows nothing about Dask.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from contextlib import contextmanager


class InlineExecutor(Executor):
    """Runs every task at once, in this process, when it is submitted (no parallelism)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(error)
        return future


def completed(executor: Executor, parallel: int, pending: deque) -> Iterator[tuple]:
    """(key, result) of every task (key, fn, *args) taken from `pending`, as each finishes,
    with at most `parallel` of them out at once. The caller may add tasks to `pending` while
    it iterates (`appendleft` to run one next); tasks still out when the iteration ends early
    (an error, Ctrl-C) are cancelled."""
    active = {}
    try:
        while pending or active:
            while pending and len(active) < parallel:
                key, fn, *args = pending.popleft()
                active[executor.submit(fn, *args)] = key
            finished, _ = wait(list(active), return_when=FIRST_COMPLETED)
            for future in finished:
                yield active.pop(future), future.result()
    finally:
        for future in active:
            future.cancel()


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@contextmanager
def executor(scheduler: str | None = None, workers: int | None = None
             ) -> Iterator[tuple[Executor, int]]:
    """(executor, tasks at once):

    scheduler given  the Dask cluster at that address (e.g. tcp://10.0.0.5:8786);
    workers == 0     `InlineExecutor`, no Dask; this process runs one torch thread while the
                     block runs (restored on exit), like a Dask worker;
    otherwise        a local Dask cluster of `workers` single-threaded worker processes
                     (default: one per core), shut down on exit.

    Every Dask worker is set to one torch thread, so each LAPACK call uses one core and the
    cores are shared out between independent trajectories.
    """
    if scheduler is not None and workers is not None:
        raise ValueError("give either a scheduler address or a number of local workers")
    if workers == 0:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield InlineExecutor(), 1
        finally:
            torch.set_num_threads(threads)
        return
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be >= 0 (0: run in this process), got {workers}")

    from dask.distributed import Client, LocalCluster

    if scheduler is None:
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        cluster = None
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as error:
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler!r} ({error}); "
                             f"check the address, or leave out --scheduler for a local "
                             f"cluster") from None
    try:
        client.run(_one_thread)
        parallel = max(1, sum(client.nthreads().values()))
        with client.get_executor(pure=False) as pool:
            yield pool, parallel
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
