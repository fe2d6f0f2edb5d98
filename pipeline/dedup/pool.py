"""How the cluster phase's tasks run outside Prefect: a `map_fn` over a spawned process pool (the
flow maps the same task functions over its Dask workers instead)."""

from __future__ import annotations


import os
import time
from collections.abc import Callable
from typing import Any



MapFn = Callable[[Callable[[Any, int], dict[str, int]], Any, list[int]], list[dict[str, int]]]


class ProcessMap:
    """A `map_fn` running tasks in `workers` processes (spawned: safe in a process that runs
    threads, like a Prefect flow), results in order of the parts; one pool for every map of a
    cluster run, started on first use; one worker: in this process. `close()` stops the pool."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: Any = None

    def __call__(self, fn: Callable[[Any, int], dict[str, int]], arg: Any, parts: list[int]) -> list[dict[str, int]]:
        if self.workers <= 1 or len(parts) <= 1:
            return [fn(arg, i) for i in parts]
        return list(self._started().map(fn, [arg] * len(parts), parts))

    def _started(self) -> Any:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def start(self) -> None:
        """Starts every process now and imports the cluster tasks' modules in each (~1 s a
        process), so that a timed phase measures the work, as a flow's Dask workers are up (and
        have run the tag tasks, which import the same libraries) before its cluster phase."""
        if self.workers > 1:
            list(self._started().map(_warm, range(self.workers)))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _warm(_: int) -> int:
    """A pool process's first task: imports what the cluster tasks run (pipeline.dedup.edges alone
    took 0.5-0.7 s in a fresh process, paid inside the first timed task of each worker before),
    then holds its worker for a moment, so that each of the pool's processes gets one."""
    import pipeline.dedup.components  # noqa: F401
    import pipeline.dedup.edges  # noqa: F401
    import pipeline.dedup.verify  # noqa: F401

    time.sleep(0.2)
    return os.getpid()


def pool_map(workers: int) -> ProcessMap:
    """A ProcessMap of `workers` processes."""
    return ProcessMap(workers)
