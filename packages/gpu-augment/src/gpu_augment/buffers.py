"""Fresh output batches: on the CPU, large ones are backed by transparent huge pages.

A 64x3x224x224 float batch is 38.5 MB, above glibc's largest dynamic mmap threshold (32 MiB on 64-bit): every
such `torch.empty` is a fresh mapping, handed back to the system when freed, and the first write into it faults in
about 9,400 pages of 4 KiB. On the benchmark machine those faults took longer than the pass that wrote the batch
(about 90 ms of wall time per batch against 10 ms for a copy into memory already mapped; README, Benchmark). Asking
the kernel for huge pages (`madvise(MADV_HUGEPAGE)`, what torch does for all its CPU allocations when
`THP_MEM_ALLOC_ENABLE=1` is set before it starts) turns that into about 20 faults of 2 MiB. The values written are
the same; only where the memory comes from changes. GPU batches and small ones use `torch.empty` as before.
Used for the results of `resample` and `lighting_image` and for the sampling grid.

A fresh mapping still costs the kernel's zeroing of its pages (about 3 ms for 38.5 MB, as much as writing the batch
once). So when the tensor of a mapping is freed, the mapping is kept for the next batch of the same size: at most
`POOL_MAX_BLOCKS` mappings and `POOL_MAX_BYTES` in all, the oldest let go first; `release_cached()` lets them all go.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import mmap
import sys
import threading
from collections.abc import Callable, Sequence

import torch

__all__ = ["empty_batch", "release_cached", "cached_bytes"]

# Smaller blocks come from memory malloc already holds (usually reused, no faults); from here on a batch gets huge
# pages. 16 MiB takes in the sampling grid of a 64x224x224 batch (25.7 MB): allocated by malloc between the per-item
# temporaries of `grid_sample`, it made them fault again (6,400 faults per batch, against about 200 with it here).
HUGE_PAGE_MIN_BYTES = 16 << 20
_HUGE_PAGES = sys.platform == "linux" and hasattr(mmap, "MADV_HUGEPAGE")

# Freed mappings kept for reuse: enough for the grid, the resampled batch and the lit batch of a pipeline, and one
# more, of a 64x3x224x224 float batch.
POOL_MAX_BLOCKS = 4
POOL_MAX_BYTES = 256 << 20
_pool: list[mmap.mmap] = []
# Taken without waiting (a thread that finds it held allocates afresh or lets its mapping go), so that neither a
# finaliser running inside the pool's own code nor a process forked while another thread held it can deadlock.
_pool_lock = threading.Lock()


def _give_back(mapping: mmap.mmap) -> None:
    """Keep a mapping whose tensor was freed (the oldest kept one goes when the pool is full)."""
    if not _pool_lock.acquire(blocking=False):
        return
    try:
        if len(mapping) <= POOL_MAX_BYTES:
            _pool.append(mapping)
            while len(_pool) > POOL_MAX_BLOCKS or sum(len(m) for m in _pool) > POOL_MAX_BYTES:
                _pool.pop(0)
    finally:
        _pool_lock.release()


def _take(nbytes: int) -> mmap.mmap | None:
    """The most recently freed mapping of exactly `nbytes`, if one is kept."""
    if not _pool_lock.acquire(blocking=False):
        return None
    try:
        for i in range(len(_pool) - 1, -1, -1):
            if len(_pool[i]) == nbytes:
                return _pool.pop(i)
        return None
    finally:
        _pool_lock.release()


def release_cached() -> None:
    """Let go of the freed batch mappings kept for reuse (their memory goes back to the system)."""
    with _pool_lock:
        _pool.clear()


def cached_bytes() -> int:
    """Bytes held in freed batch mappings kept for reuse."""
    with _pool_lock:
        return sum(len(m) for m in _pool)


@functools.lru_cache(maxsize=16)
def _block_maker(nbytes: int) -> Callable[[mmap.mmap], object]:
    """A function exporting a mapping of `nbytes` as a ctypes byte array that hands the mapping back to the pool
    when it is freed.

    torch.frombuffer keeps the object it reads from alive as long as the tensor's storage lives, and releases
    it when the storage is freed: that release is how the pool learns that the memory is free again.
    """

    class _Block(ctypes.c_char * nbytes):  # type: ignore[misc]
        mapping: mmap.mmap

        def __del__(self, give_back: Callable[[mmap.mmap], None] = _give_back) -> None:  # bound now: safe at exit
            give_back(self.mapping)

    def make(mapping: mmap.mmap) -> object:
        block = _Block.from_buffer(mapping)
        block.mapping = mapping
        return block

    return make


def empty_batch(like: torch.Tensor, shape: Sequence[int] | None = None) -> torch.Tensor:
    """An uninitialised contiguous tensor of `shape` (default `like.shape`) with `like`'s dtype and device.

    On a Linux CPU, one of at least `HUGE_PAGE_MIN_BYTES` is an anonymous private mapping advised to use
    transparent huge pages (a kernel that refuses the advice gives ordinary pages), reused from a freed batch of
    the same size when one is kept; its storage is not resizable.
    """
    size = tuple(like.shape if shape is None else shape)
    nbytes = math.prod(size) * like.element_size()
    if like.device.type != "cpu" or not _HUGE_PAGES or nbytes < HUGE_PAGE_MIN_BYTES:
        return torch.empty(size, dtype=like.dtype, device=like.device)
    mapping = _take(nbytes)
    if mapping is None:
        mapping = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        with contextlib.suppress(OSError):  # a kernel without transparent huge pages: ordinary pages, same result
            mapping.madvise(mmap.MADV_HUGEPAGE)
    block = _block_maker(nbytes)(mapping)
    # the tensor keeps `block` (and so the mapping) alive; when its storage is freed, the mapping goes to the pool
    return torch.frombuffer(block, dtype=like.dtype).view(size)
