"""Fresh output batches: on the CPU, large ones are backed by transparent huge pages.

A 64x3x224x224 float batch is 38.5 MB, above glibc's largest dynamic mmap threshold (32 MiB on 64-bit): every
such `torch.empty` is a fresh mapping, handed back to the system when freed, and the first write into it faults in
about 9,400 pages of 4 KiB. On the benchmark machine those faults took longer than the pass that wrote the batch
(about 90 ms of wall time per batch against 10 ms for a copy into memory already mapped; README, Benchmark). Asking
the kernel for huge pages (`madvise(MADV_HUGEPAGE)`, what torch does for all its CPU allocations when
`THP_MEM_ALLOC_ENABLE=1` is set before it starts) turns that into about 20 faults of 2 MiB. The values written are
the same; only where the memory comes from changes. GPU batches and small ones use `torch.empty` as before.
Used for the results of `resample` and `lighting_image` and for the sampling grid.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import sys
from collections.abc import Sequence

import torch

__all__ = ["empty_batch"]

# Smaller blocks come from memory malloc already holds (usually reused, no faults); from here on a batch gets huge
# pages. 16 MiB takes in the sampling grid of a 64x224x224 batch (25.7 MB): allocated by malloc between the per-item
# temporaries of `grid_sample`, it made them fault again (6,400 faults per batch, against about 200 with it here).
HUGE_PAGE_MIN_BYTES = 16 << 20
_HUGE_PAGES = sys.platform == "linux" and hasattr(mmap, "MADV_HUGEPAGE")


def empty_batch(like: torch.Tensor, shape: Sequence[int] | None = None) -> torch.Tensor:
    """An uninitialised contiguous tensor of `shape` (default `like.shape`) with `like`'s dtype and device.

    On a Linux CPU, one of at least `HUGE_PAGE_MIN_BYTES` is an anonymous private mapping advised to use
    transparent huge pages (a kernel that refuses the advice gives ordinary pages); its storage is not resizable.
    """
    size = tuple(like.shape if shape is None else shape)
    nbytes = math.prod(size) * like.element_size()
    if like.device.type != "cpu" or not _HUGE_PAGES or nbytes < HUGE_PAGE_MIN_BYTES:
        return torch.empty(size, dtype=like.dtype, device=like.device)
    buf = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    with contextlib.suppress(OSError):  # a kernel built without transparent huge pages: ordinary pages, same result
        buf.madvise(mmap.MADV_HUGEPAGE)
    # the tensor keeps `buf` alive; the mapping is released when the tensor's storage is freed
    return torch.frombuffer(buf, dtype=like.dtype).view(size)
