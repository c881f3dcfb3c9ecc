"""DistributedTrainer: 2 CPU processes (gloo) launched with torchrun against single-process training."""

import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pluggable_optim import SGD
from trainloop_callbacks import Learner
from trainloop_callbacks.distributed import ShardedBatches, distrib_ctx, num_distrib, rank_distrib

SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
    from pluggable_optim import SGD
    from trainloop_callbacks import Callback, CSVLogger, Learner
    from trainloop_callbacks.distributed import distrib_ctx, rank_distrib

    def data():
        g = torch.Generator().manual_seed(0)
        x = torch.randn(64, 3, generator=g)
        y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
        return DataLoader(TensorDataset(x, y), batch_size=8), DataLoader(TensorDataset(x[:32], y[:32]), batch_size=8)

    class Seen(Callback):
        def __init__(self):
            self.rows, self.weights, self.off = [], [], set()
        def before_batch(self):
            if self.learn.training:
                self.rows.append(self.learn.xb[0].clone())
        def after_step(self):
            self.weights.append([p.detach().clone() for p in self.learn.model.parameters()])
        def after_epoch(self):
            self.off |= {type(c).__name__ for c in self.learn.cbs if not c.run}

    torch.manual_seed(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    seen = Seen()
    learn = Learner(data(), nn.Linear(3, 1), loss_func=nn.MSELoss(), opt_func=SGD, lr=0.1, path=sys.argv[1],
                    cbs=[seen, CSVLogger()])
    with distrib_ctx(learn):
        rank = rank_distrib()
        learn.fit(2)
        preds, targs = learn.get_preds()
    torch.save({"rows": torch.cat(seen.rows), "weights": seen.weights, "values": learn.recorder.values,
                "off": sorted(seen.off), "final": learn.model.state_dict(), "preds": preds, "targs": targs,
                "is_ddp": type(learn.model).__name__},
               f"{sys.argv[1]}/rank{rank}.pt")
    """
)


def single_process_reference():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    torch.manual_seed(0)
    learn = Learner(
        (DataLoader(TensorDataset(x, y), batch_size=16), DataLoader(TensorDataset(x[:32], y[:32]), batch_size=16)),
        nn.Linear(3, 1),
        loss_func=nn.MSELoss(),
        opt_func=SGD,
        lr=0.1,
    )
    learn.remove_cb(learn.progress)
    learn.logger = None
    learn.fit(2)
    return learn, x


@pytest.mark.slow
def test_two_process_gloo_ddp_equals_single_process(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    # rank 1 starts from other random weights: DDP must broadcast rank 0's
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(script),
        str(tmp_path),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=_env())
    assert res.returncode == 0, res.stderr[-4000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    ref, x = single_process_reference()
    # disjoint shards covering the data once per epoch
    n = r0["rows"].shape[0]
    assert n == r1["rows"].shape[0] == 64  # 32 samples per rank per epoch, 2 epochs
    first0, first1 = r0["rows"][:32], r1["rows"][:32]
    assert not (first0[:, None, :] == first1[None, :, :]).all(-1).any()
    torch.testing.assert_close(torch.sort(torch.cat([first0, first1]), dim=0)[0], torch.sort(x, dim=0)[0])
    # identical weights on both ranks after every step, equal to one process on the global batch
    assert len(r0["weights"]) == len(r1["weights"]) == 8
    for w0, w1 in zip(r0["weights"], r1["weights"], strict=True):
        for a, b in zip(w0, w1, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    for p, q in zip(ref.model.parameters(), r0["final"].values(), strict=True):
        torch.testing.assert_close(p.detach(), q, rtol=1e-5, atol=1e-6)
    # validation loss gathered from both ranks: the global one
    assert [v[1] for v in r0["values"]] == [v[1] for v in r1["values"]]
    assert abs(r0["values"][-1][1] - ref.recorder.values[-1][1]) < 1e-5
    # get_preds gathers every item (rank-interleaved, correctly paired)
    assert r0["preds"].shape == (32, 1)
    ref_preds, ref_targs = ref.get_preds()
    order0 = torch.argsort(r0["targs"][:, 0])
    order_ref = torch.argsort(ref_targs[:, 0])
    torch.testing.assert_close(r0["preds"][order0], ref_preds[order_ref], rtol=1e-5, atol=1e-6)
    # side-effect callbacks only on rank 0; the model is unwrapped afterwards
    assert r0["off"] == []
    assert r1["off"] == ["CSVLogger", "ProgressCallback"]
    assert r0["is_ddp"] == r1["is_ddp"] == "Linear"
    assert (tmp_path / "history.csv").read_text().count("\n") == 3  # header + 2 epochs, written once


def _env():
    import os

    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    return env


def test_single_process_distrib_ctx_is_a_no_op(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    learn, _ = single_process_reference()
    n_cbs = len(learn.cbs)
    with distrib_ctx(learn) as same:
        assert same is learn
        assert len(learn.cbs) == n_cbs
    assert (rank_distrib(), num_distrib()) == (0, 1)


def test_sharded_batches_split_any_iterable():
    batches = list(range(7))
    shards = [list(ShardedBatches(batches, r, 3)) for r in range(3)]
    assert shards == [[0, 3], [1, 4], [2, 5]]  # the incomplete last round (6) is dropped on every rank
    assert len(ShardedBatches(batches, 0, 3)) == 2


def test_distributed_trainer_needs_a_process_group():
    from trainloop_callbacks.distributed import DistributedTrainer

    learn, _ = single_process_reference()
    with pytest.raises(RuntimeError, match="initialised process group"):
        learn.fit(1, cbs=[DistributedTrainer()])
