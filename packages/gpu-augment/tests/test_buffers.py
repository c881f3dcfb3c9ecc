import pickle

import torch

from gpu_augment.buffers import HUGE_PAGE_MIN_BYTES, empty_batch


def test_large_cpu_batch_is_a_plain_usable_tensor():
    like = torch.zeros(2, dtype=torch.float32)
    n = HUGE_PAGE_MIN_BYTES // 4 + 1024  # just above the threshold
    out = empty_batch(like, (n,))
    assert out.shape == (n,) and out.dtype == torch.float32 and out.device.type == "cpu" and out.is_contiguous()
    out.copy_(torch.arange(n, dtype=torch.float32))
    assert out[-1].item() == n - 1 and torch.equal(out[:5], torch.arange(5.0))
    assert torch.equal(pickle.loads(pickle.dumps(out)), out)  # DataLoader workers pickle batches
    del like
    kept = out[10:20]  # a view keeps the memory alive after the batch is gone
    del out
    assert torch.equal(kept, torch.arange(10.0, 20.0))
    assert kept.share_memory_().is_shared()  # as torch.multiprocessing does to send it to another process
    assert torch.equal(kept, torch.arange(10.0, 20.0))


def test_small_or_shaped_like_batches():
    like = torch.ones(3, 4, dtype=torch.float64)
    small = empty_batch(like)
    assert small.shape == (3, 4) and small.dtype == torch.float64 and small.untyped_storage().resizable()
    big = empty_batch(torch.ones(1, dtype=torch.uint8), (HUGE_PAGE_MIN_BYTES,))
    big.fill_(7)
    assert big.dtype == torch.uint8 and int(big.sum()) == 7 * HUGE_PAGE_MIN_BYTES


def test_freed_batch_memory_is_reused_only_once_nothing_holds_it():
    from gpu_augment.buffers import POOL_MAX_BLOCKS, POOL_MAX_BYTES, cached_bytes, release_cached

    release_cached()
    like = torch.zeros(1, dtype=torch.float32)
    n = HUGE_PAGE_MIN_BYTES // 4
    out = empty_batch(like, (n,))
    ptr = out.data_ptr()
    kept = out[:10]
    kept.copy_(torch.arange(10.0))
    del out
    assert cached_bytes() == 0  # the view still holds the memory
    other = empty_batch(like, (n,))
    other.fill_(-1)
    assert other.data_ptr() != ptr and torch.equal(kept, torch.arange(10.0))
    del kept
    assert cached_bytes() == 4 * n  # now free: kept for the next batch of that size
    again = empty_batch(like, (2, n // 2))
    assert again.data_ptr() == ptr and cached_bytes() == 0 and again.shape == (2, n // 2)
    assert empty_batch(like, (n + 1024,)).data_ptr() != other.data_ptr()  # another size: a fresh mapping
    del again, other
    assert cached_bytes() == 4 * (n + 1024) + 8 * n  # the other-size one (freed at once) and these two
    many = [empty_batch(like, (n,)) for _ in range(POOL_MAX_BLOCKS + 2)]
    del many
    assert 0 < cached_bytes() <= min(POOL_MAX_BYTES, POOL_MAX_BLOCKS * 4 * (n + 1024))
    release_cached()
    assert cached_bytes() == 0
