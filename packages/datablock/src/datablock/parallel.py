"""Parallel helpers for preprocessing (reading, tokenizing): a map and a generator over worker processes.

The progress bar is fastprogress's when the `progress` extra is installed (`pip install "datablock[progress]"`),
else a plain-text counter (on an interactive terminal only, as fastprogress's console bar).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, TextIO, TypeVar

__all__ = ["parallel_map", "parallel_gen", "default_workers", "with_progress"]

T = TypeVar("T")
R = TypeVar("R")

_worker: Callable[[Sequence[Any]], Iterable[Any]] | None = None  # set once per worker process by _init_worker


def default_workers() -> int:
    """How many workers to use by default: the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _executor(n_workers: int, threads: bool, **kw: Any) -> Executor:
    return ThreadPoolExecutor(n_workers, **kw) if threads else ProcessPoolExecutor(n_workers, **kw)


def with_progress(it: Iterable[T], total: int, progress: bool = True) -> Iterator[T]:
    """`it` unchanged, shown with a progress bar over `total` items when `progress`: fastprogress's with the
    `progress` extra, else a plain-text counter on an interactive terminal (nothing otherwise)."""
    if not (progress and total):
        yield from it
    elif importlib.util.find_spec("fastprogress") is not None:
        from fastprogress.fastprogress import progress_bar

        yield from progress_bar(it, total=total, leave=False)
    else:
        yield from _text_progress(it, total, sys.stdout)


def _text_progress(it: Iterable[T], total: int, stream: TextIO, every: float = 0.2) -> Iterator[T]:
    """`it` unchanged, with a `done/total (pct)` line redrawn in place on `stream` when it is a terminal."""
    if not getattr(stream, "isatty", lambda: False)():
        yield from it
        return
    last, width = 0.0, 0
    try:
        for done, item in enumerate(it, 1):
            yield item
            now = time.monotonic()
            if now - last >= every or done == total:
                last = now
                line = f"{done}/{total} ({100 * done // total}%)"
                width = max(width, len(line))
                stream.write("\r" + line.ljust(width))
                stream.flush()
    finally:
        if width:  # leave nothing behind, as fastprogress's bar with leave=False
            stream.write("\r" + " " * width + "\r")
            stream.flush()


def parallel_map(
    func: Callable[[T], R],
    items: Iterable[T],
    n_workers: int | None = None,
    chunksize: int = 1,
    progress: bool = True,
    threads: bool = False,
) -> list[R]:
    """`[func(o) for o in items]` over `n_workers` processes (threads with `threads=True`), in order.

    `n_workers=0` runs in this process (easy to debug); `None` uses every available CPU.
    Processes need a picklable `func` (a module-level function); a progress bar shows
    unless `progress=False`.
    """
    items = list(items)
    n_workers = default_workers() if n_workers is None else n_workers
    if n_workers < 0:
        raise ValueError(f"parallel_map: n_workers must be >= 0, got {n_workers}")
    if chunksize < 1:
        raise ValueError(f"parallel_map: chunksize must be >= 1, got {chunksize}")
    if n_workers == 0 or len(items) <= 1:
        return list(with_progress(map(func, items), len(items), progress))
    with _executor(n_workers, threads) as ex:
        mapped = ex.map(func, items, chunksize=chunksize) if not threads else ex.map(func, items)
        return list(with_progress(mapped, len(items), progress))


def _init_worker(make_worker: Callable[[], Callable[[Sequence[Any]], Iterable[Any]]]) -> None:
    global _worker
    _worker = make_worker()


def _run_chunk(chunk: Sequence[Any]) -> list[Any]:
    assert _worker is not None, "parallel_gen: worker was not initialised"
    return list(_worker(chunk))


def parallel_gen(
    make_worker: Callable[[], Callable[[Sequence[T]], Iterable[R]]],
    items: Iterable[T],
    n_workers: int | None = None,
    chunksize: int = 64,
    progress: bool = True,
) -> Iterator[R]:
    """Yield one result per item, in order, from stateful workers that are set up once per process.

    Each worker process calls `make_worker()` once (load a tokenizer, open a file...) and then
    calls the returned function on chunks of `chunksize` items; it must return one result per
    item of the chunk. `n_workers=0` runs in this process.

    Items are read lazily and at most two chunks per worker are in flight, so memory stays bounded by
    the chunks in flight, whatever the number of items (a generator of texts streams through).
    """
    n_workers = default_workers() if n_workers is None else n_workers
    if n_workers < 0:
        raise ValueError(f"parallel_gen: n_workers must be >= 0, got {n_workers}")
    total = -(-len(items) // max(1, chunksize)) if isinstance(items, Sized) else 0  # chunks, for the progress bar
    chunks = _iter_chunks(items, max(1, chunksize))
    if n_workers == 0:
        worker = make_worker()
        for res in with_progress(_checked((c, worker(c)) for c in chunks), total, progress):
            yield from res
        return
    first = list(itertools.islice(chunks, 2 * n_workers))  # how many workers the items need at most
    if not first:
        return
    n_procs = max(1, min(n_workers, len(first)))
    with ProcessPoolExecutor(n_procs, initializer=_init_worker, initargs=(make_worker,)) as ex:
        pending: deque[tuple[int, Future[list[Any]]]] = deque((len(c), ex.submit(_run_chunk, c)) for c in first)
        del first

        def results() -> Iterator[list[Any]]:
            while pending:
                n, fut = pending.popleft()
                nxt = next(chunks, None)
                if nxt is not None:  # keep the workers busy: one chunk submitted for each one collected
                    pending.append((len(nxt), ex.submit(_run_chunk, nxt)))
                res = fut.result()
                if len(res) != n:
                    raise ValueError(f"parallel_gen: the worker returned {len(res)} results for a chunk of {n} items")
                yield res

        for res in with_progress(results(), total, progress):
            yield from res


def _checked(pairs: Iterable[tuple[Sequence[Any], Iterable[R]]]) -> Iterator[list[R]]:
    for chunk, res in pairs:
        res = list(res)
        if len(res) != len(chunk):
            raise ValueError(f"parallel_gen: the worker returned {len(res)} results for a chunk of {len(chunk)} items")
        yield res


def _iter_chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk
