"""Distributed data parallel training on `torch.distributed`: `DistributedTrainer` and `distrib_ctx`.

Launch one process per device with `torchrun --nproc_per_node=N train.py`; inside, `with distrib_ctx(learn):
learn.fit(...)`. Each rank trains on a disjoint shard of every epoch, DDP averages the gradients, so the weights
stay identical on all ranks; validation batches are gathered so every rank sees the global loss and metrics.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from trainloop_callbacks.batches import find_bs
from trainloop_callbacks.loop.callback import Callback
from trainloop_callbacks.loop.train_eval import StepClock, TrainEvalCallback

if TYPE_CHECKING:
    from trainloop_callbacks.learner import Learner

__all__ = [
    "DistributedTrainer",
    "distrib_ctx",
    "rank_distrib",
    "num_distrib",
    "ShardedBatches",
    "RANK0_ONLY",
]

RANK0_ONLY = ("ProgressCallback", "CSVLogger", "SaveModelCallback")
"""Callbacks with side effects (bars, files, checkpoints) that run on rank 0 only; a callback can also declare
`rank0_only = True`."""


def rank_distrib() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def num_distrib() -> int:
    """Number of processes (1 when not distributed)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class ShardedBatches:
    """Rank `rank`'s share of any iterable of batches: batches `rank`, `rank + world`, ... (disjoint across ranks;
    batches past the last full round are dropped so every rank runs the same number of steps)."""

    def __init__(self, dl: Iterable[Any], rank: int, world: int) -> None:
        self.dl, self.rank, self.world = dl, rank, world

    def __len__(self) -> int:
        return len(self.dl) // self.world  # type: ignore[arg-type]  # TypeError for an unsized dl, as len() of one

    def __iter__(self) -> Iterator[Any]:
        try:
            n = len(self)
        except TypeError:
            n = None
        for i, b in enumerate(self.dl):
            if n is not None and i >= n * self.world:
                return
            if i % self.world == self.rank:
                yield b


def _shard(dl: Any, rank: int, world: int) -> Any:
    """`dl` with a `DistributedSampler` when it is a torch DataLoader over a dataset, else `ShardedBatches`."""
    if (
        isinstance(dl, DataLoader)
        and dl.batch_size is not None
        and not isinstance(dl.dataset, torch.utils.data.IterableDataset)
    ):
        sampler: DistributedSampler[Any] = DistributedSampler(
            dl.dataset, num_replicas=world, rank=rank, shuffle=isinstance(dl.sampler, RandomSampler)
        )
        return DataLoader(
            dl.dataset,
            batch_size=dl.batch_size,
            sampler=sampler,
            num_workers=dl.num_workers,
            collate_fn=dl.collate_fn,
            pin_memory=dl.pin_memory,
            drop_last=dl.drop_last,
        )
    return ShardedBatches(dl, rank, world)


class _ShardedData:
    """The learner's data during a distributed fit: sharded `train`/`valid`, everything else from the original."""

    def __init__(self, original: Any, rank: int, world: int) -> None:
        self.original = original
        self.train = _shard(original.train, rank, world)
        self.valid = _shard(original.valid, rank, world)
        self.n_inp = getattr(original, "n_inp", 1)


def _gather_cat(x: Any) -> Any:
    """Concatenate `x` (tensors, tuples of tensors) from all ranks along dim 0; sizes may differ by rank."""
    if isinstance(x, (tuple, list)):
        return type(x)(_gather_cat(o) for o in x)
    if not isinstance(x, Tensor):
        return x
    world = num_distrib()
    x = x.contiguous()
    n = torch.tensor([x.shape[0] if x.ndim else 1], device=x.device)
    sizes = [torch.zeros_like(n) for _ in range(world)]
    dist.all_gather(sizes, n)
    sizes_i = [int(s) for s in sizes]
    flat = x if x.ndim else x[None]
    padded = torch.zeros((max(sizes_i), *flat.shape[1:]), dtype=flat.dtype, device=flat.device)
    padded[: flat.shape[0]] = flat
    parts = [torch.zeros_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([p[:s] for p, s in zip(parts, sizes_i, strict=True)])


class DistributedTrainer(Callback):
    """Trains with `DistributedDataParallel` in an initialised process group.

    `before_fit` wraps the model in DDP (rank 0's weights are broadcast to all), shards the training and
    validation data (`DistributedSampler`, or `ShardedBatches` for other iterables), and switches side-effect
    callbacks (`RANK0_ONLY`, or `rank0_only = True`) and the log off on ranks other than 0. Validation batches
    (and `get_preds`) are gathered from all ranks, so loss, metrics and predictions are global; items are then in
    rank-interleaved order, paired correctly. `after_fit` broadcasts rank 0's final weights (e.g. a best checkpoint
    it loaded) and unwraps the model.
    """

    order = -15
    run_before = {  # noqa: RUF012
        TrainEvalCallback: "the training loader must be sharded before the batch count of the schedule is read",
        StepClock: "the training loader must be sharded before the batch count of the schedule is read",
    }
    unique = True  # one per learner: another instance replaces it

    def __init__(self, sync_bn: bool = True, **ddp_kwargs: Any) -> None:
        self.sync_bn, self.ddp_kwargs = sync_bn, ddp_kwargs
        self._off: list[Callback] = []

    def before_fit(self) -> None:
        learn = self.learn
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError(
                "DistributedTrainer needs an initialised process group: launch with torchrun and use "
                "`with distrib_ctx(learn):` (or call torch.distributed.init_process_group first)"
            )
        self.rank, self.world = rank_distrib(), num_distrib()
        model = learn.model
        if self.sync_bn and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self._bare = model
        device = next(model.parameters()).device
        ids = [device.index] if device.type == "cuda" else None
        learn.model = DistributedDataParallel(model, device_ids=ids, **self.ddp_kwargs)
        self._dls = learn.dls
        learn.dls = _ShardedData(learn.dls, self.rank, self.world)
        self._logger = learn.logger
        self._off = []
        if self.rank != 0:
            learn.logger = None
            for cb in learn.cbs:
                if cb.run and (type(cb).__name__ in RANK0_ONLY or getattr(cb, "rank0_only", False)):
                    cb.run = False
                    self._off.append(cb)
        # added for this fit: its after_fit runs last (order), after checkpoints were loaded
        self._finish = _DistributedFinish(self)
        learn.add_cb(self._finish)

    def before_train(self) -> None:
        sampler = getattr(self.learn.dl, "sampler", None)
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(self.learn.epoch)

    def before_validate(self) -> None:
        learn = self.learn
        if not (dist.is_available() and dist.is_initialized()):
            return
        if not _is_sharded(learn.dl):
            learn.dl = _shard(learn.dl, rank_distrib(), num_distrib())  # get_preds/validate outside fit

    def after_batch(self) -> None:
        learn = self.learn
        if learn.training or not (dist.is_available() and dist.is_initialized()):
            return
        bs = find_bs(learn.yb) if learn.yb else find_bs(learn.xb)
        loss = learn.loss
        if loss.ndim == 0:  # a mean over the local batch: weight by the local batch size
            both = torch.stack([loss.detach().float() * bs, torch.tensor(float(bs), device=loss.device)])
            dist.all_reduce(both)
            learn.loss = both[0] / both[1]
        else:
            learn.loss = _gather_cat(loss)
        learn.pred = _gather_cat(learn.pred)
        learn.yb = _gather_cat(learn.yb)
        learn.xb = _gather_cat(learn.xb)

    def _restore(self) -> None:
        learn = self.learn
        if not isinstance(learn.model, DistributedDataParallel):
            return
        learn.model = self._bare
        learn.dls = self._dls
        learn.logger = self._logger
        for cb in self._off:
            cb.run = True
        self._off = []


def _is_sharded(dl: Any) -> bool:
    return isinstance(dl, ShardedBatches) or isinstance(getattr(dl, "sampler", None), DistributedSampler)


class _DistributedFinish(Callback):
    """The last `after_fit` of a distributed fit: rank 0's weights to all ranks, then the model unwrapped."""

    order = 1000

    def __init__(self, trainer: DistributedTrainer) -> None:
        self.trainer = trainer

    @torch.no_grad()
    def after_fit(self) -> None:
        for t in self.trainer._bare.state_dict().values():
            dist.broadcast(t, src=0)
        self.trainer._restore()
        self.learn.remove_cb(self)


@contextlib.contextmanager
def distrib_ctx(learn: Learner, sync_bn: bool = True, backend: str | None = None) -> Iterator[Learner]:
    """Train `learn` distributed inside the block when launched by `torchrun` (`WORLD_SIZE` > 1): initialise the
    process group if needed (nccl on GPUs, gloo on CPU), move the model to this rank's GPU, attach
    `DistributedTrainer`; afterwards detach it and tear down the group it created. In a single process it does
    nothing, so the same script runs with `python` and with `torchrun`."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    created = False
    if world > 1 and not dist.is_initialized():
        if backend is None:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
        if torch.cuda.is_available():
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            learn.model.to(torch.device("cuda", local))
        dist.init_process_group(backend)
        created = True
    if not dist.is_initialized():
        yield learn
        return
    trainer = DistributedTrainer(sync_bn=sync_bn)
    learn.add_cb(trainer)
    try:
        yield learn
    finally:
        trainer._restore()  # a no-op after a complete fit; after an error it unwraps the model and data
        learn.remove_cb(trainer)
        if created:
            dist.barrier()
            dist.destroy_process_group()
