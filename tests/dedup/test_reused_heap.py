"""The cluster tasks' allocator setting (pipeline/dedup/heap.py): inside `reused_heap` a large
array freed on the main thread stays in the process (the next one reuses its pages); after it the
memory goes back to the system, as it does without the setting; other threads are left alone."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from pipeline.dedup import heap

pytestmark = pytest.mark.skipif(heap._glibc() is None or not os.path.exists("/proc/self/statm"), reason="glibc on Linux only")

_MB = 1 << 20
_SIZE = 256 * _MB


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _touch_and_free() -> tuple[int, int]:
    """RSS with a freshly written large array, then after freeing it."""
    a = np.ones(_SIZE // 8)
    held = _rss()
    del a
    return held, _rss()


def test_freed_memory_stays_inside_and_goes_back_after() -> None:
    held, after_free = _touch_and_free()
    assert after_free < held - _SIZE // 2  # glibc's default: the block was mmapped, freed at once
    with heap.reused_heap():
        held, after_free = _touch_and_free()
        assert after_free > held - _SIZE // 4  # kept for the next allocation
        again, _ = _touch_and_free()
        assert again < held + _SIZE // 4  # the same pages again, not another 256 MB
    assert _rss() < after_free - _SIZE // 2  # trimmed at the end
    held, after_free = _touch_and_free()
    assert after_free < held - _SIZE // 2  # defaults back


def test_other_threads_and_nesting_are_left_alone() -> None:
    out: list[tuple[int, int]] = []

    def run() -> None:
        with heap.reused_heap():
            out.append(_touch_and_free())

    t = threading.Thread(target=run)
    t.start()
    t.join()
    held, after_free = out[0]
    assert after_free < held - _SIZE // 2
    with heap.reused_heap():
        with heap.reused_heap():
            pass
        held, after_free = _touch_and_free()  # the inner block's end did not restore the defaults
        assert after_free > held - _SIZE // 4


def test_decorated_task_keeps_its_name_and_result() -> None:
    @heap.in_reused_heap
    def task(plan: object, i: int) -> dict[str, int]:
        """doc"""
        return {"i": i}

    assert task(None, 3) == {"i": 3} and task.__name__ == "task" and task.__doc__ == "doc"
