"""Task-scoped allocator setting for the cluster tasks (issue #18): their partition-sized numpy
temporaries (a dozen per task, tens to hundreds of MB each) come from glibc's heap and are reused
inside the task, instead of one fresh mmap each whose pages the kernel maps and zeroes again every
time. That zeroing is memory-bandwidth work, so it also made two tasks on two cores slow each
other down. Measured on bench/cluster_scale.py's 4M set (partition task 0, a fresh process): 0.35
to 0.8 s with glibc's default, 0.31-0.35 s inside `reused_heap`.

Linux/glibc only (`mallopt`, `malloc_trim`), and only on the main thread (the thread arenas'
heaps are 64 MB at most, so large blocks are mmapped there whatever the setting); elsewhere it
does nothing. At the end the defaults come back and the free heap is returned to the system, so a
long-lived process (a Dask worker, the CLI) holds no more than before."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

# mallopt parameters (malloc.h) and glibc's defaults
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536
_NO_TRIM = 2**31 - 1  # mallopt takes a C int

_depth = 0


@functools.cache
def _glibc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
        return libc
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return None


@contextlib.contextmanager
def reused_heap() -> Iterator[None]:
    """Inside: large allocations of this thread from the heap, kept there when freed (module
    doc). Nested uses keep the outermost's setting."""
    global _depth
    libc = _glibc()
    if libc is None or threading.current_thread() is not threading.main_thread() or _depth:
        yield
        return
    _depth += 1
    libc.mallopt(_M_MMAP_MAX, 0)
    libc.mallopt(_M_TRIM_THRESHOLD, _NO_TRIM)
    try:
        yield
    finally:
        _depth -= 1
        libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
        libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
        libc.malloc_trim(0)


def in_reused_heap(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` run inside `reused_heap` (the cluster tasks' decorator)."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with reused_heap():
            return fn(*args, **kwargs)

    return run
