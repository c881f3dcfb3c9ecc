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
