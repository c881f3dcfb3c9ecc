"""Schedules: annealers, combined schedules, ParamScheduler and the fit policies' lr/mom curves."""

import math

import pytest
import torch
from torch import nn

from pluggable_optim import SGD, Adam
from trainloop_callbacks import (
    Learner,
    ParamScheduler,
    SchedCos,
    SchedExp,
    SchedLin,
    SchedNo,
    SchedPoly,
    combine_scheds,
    combined_cos,
)
from trainloop_callbacks.schedule.scheds import sched_cos, sched_exp, sched_lin, sched_no, sched_poly


def test_annealers_match_formulas():
    assert sched_lin(1.0, 3.0, 0.5) == 2.0
    assert math.isclose(sched_cos(1.0, 0.0, 0.5), 0.5)
    assert math.isclose(sched_cos(0.0, 1.0, 0.25), (1 - math.cos(math.pi / 4)) / 2)
    assert sched_no(2.0, 5.0, 0.7) == 2.0
    assert math.isclose(sched_exp(1e-4, 1e-2, 0.5), 1e-3)
    assert math.isclose(SchedPoly(0.0, 1.0, 1.0)(0.3), 0.3)


@pytest.mark.parametrize("power", [0.5, 1.0, 2.0, 3.0])
def test_sched_poly_is_fastais_curve(power):
    # fastai: start + (end - start) * pos**power (an ease-in for power > 1, not an ease-out)
    for start, end in [(0.0, 2.0), (1.0, 0.0), (1e-2, 1e-4)]:
        for pos in [0.0, 0.1, 0.25, 0.5, 0.9, 1.0]:
            expected = start + (end - start) * pos**power
            assert math.isclose(SchedPoly(start, end, power)(pos), expected, rel_tol=1e-12, abs_tol=1e-15)
            assert math.isclose(sched_poly(start, end, pos, power=power), expected, rel_tol=1e-12, abs_tol=1e-15)
    assert math.isclose(SchedPoly(0.0, 2.0, 2.0)(0.5), 0.5)  # the example in fastai's docs


def test_schedule_objects_per_group_lists():
    s = SchedLin([1.0, 2.0], [3.0, 6.0])
    assert s(0.5) == [2.0, 4.0]
    assert SchedCos(1.0, 0.0)(1.0) == pytest.approx(0.0, abs=1e-12)
    assert SchedNo(0.3)(0.9) == 0.3
    with pytest.raises(ValueError, match="positive"):
        SchedExp(0.0, 1.0)


def test_combine_scheds_phases():
    f = combine_scheds([0.3, 0.7], [SchedLin(0.0, 1.0), SchedLin(1.0, 0.0)])
    assert f(0.0) == 0.0
    assert math.isclose(f(0.15), 0.5)
    assert math.isclose(f(0.3), 1.0)
    assert math.isclose(f(0.65), 0.5)
    assert math.isclose(f(1.0), 0.0)
    g = combine_scheds([0.0, 1.0], [SchedLin(5.0, 5.0), SchedLin(1.0, 2.0)])  # zero-length phase skipped
    assert g(0.0) == 1.0
    with pytest.raises(ValueError, match="sum to 1"):
        combine_scheds([0.5, 0.6], [SchedNo(1), SchedNo(2)])


def test_combined_cos_endpoints():
    f = combined_cos(0.25, 1.0, 10.0, 0.01)
    assert math.isclose(f(0.0), 1.0)
    assert math.isclose(f(0.25), 10.0)
    assert math.isclose(f(1.0), 0.01)


def _learner(make_regression, opt_func=Adam, n=64, bs=8):
    torch.manual_seed(0)
    return Learner(make_regression(n=n, bs=bs), nn.Linear(3, 1), nn.MSELoss(), opt_func=opt_func)


def test_one_cycle_lr_and_mom_curves(make_regression):
    learn = _learner(make_regression)
    with learn.no_bar():
        learn.fit_one_cycle(2, lr_max=1e-2, div=25.0, div_final=1e4, pct_start=0.25, moms=(0.95, 0.85, 0.95))
    lrs, moms = learn.recorder.lrs, learn.recorder.moms
    n = len(lrs)
    assert n == 16
    expected_lr = combined_cos(0.25, 1e-2 / 25, 1e-2, 1e-2 / 1e4)
    expected_mom = combined_cos(0.25, 0.95, 0.85, 0.95)
    for i in range(n):
        assert lrs[i] == pytest.approx(expected_lr(i / n))
        assert moms[i] == pytest.approx(expected_mom(i / n))
    peak = max(range(n), key=lrs.__getitem__)
    assert peak == 4 and moms[peak] == min(moms)  # warm-up is 25% of 16 batches; momentum is lowest at the peak


def test_fit_flat_cos_and_sgdr(make_regression):
    learn = _learner(make_regression)
    with learn.no_bar():
        learn.fit_flat_cos(2, lr=1e-2, pct_start=0.5)
    lrs = learn.recorder.lrs
    assert lrs[:8] == pytest.approx([1e-2] * 8)
    assert lrs[-1] < 1e-3
    with learn.no_bar():
        learn.fit_sgdr(2, 1, lr_max=1e-2, cycle_mult=2)  # cycles of 1 and 2 epochs
    lrs = learn.recorder.lrs
    assert len(lrs) == 24
    assert lrs[0] == pytest.approx(1e-2) and lrs[8] == pytest.approx(1e-2)  # restart after the first cycle
    assert lrs[7] < lrs[8]


def test_discriminative_lrs_with_slice(make_regression):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    learn = Learner(
        make_regression(), model, nn.MSELoss(), opt_func=Adam, splitter=lambda m: [m[0].parameters(), m[1].parameters()]
    )
    with learn.no_bar():
        learn.fit_one_cycle(1, lr_max=slice(1e-4, 1e-2), pct_start=0.5)
    last = [h["lr"] for h in learn.opt.hypers]  # set before the last of 4 batches, at pct_train 3/4
    expected = [combined_cos(0.5, lr / 25, lr, lr / 1e5)(3 / 4) for lr in (1e-4, 1e-2)]
    assert last == pytest.approx(expected)
    assert learn.recorder.lrs[-1] == pytest.approx(expected[1])  # the recorder follows the last group


def test_param_scheduler_any_hyper_and_unknown_name(make_regression):
    learn = _learner(make_regression, opt_func=SGD)
    with learn.no_bar():
        learn.fit(1, cbs=ParamScheduler({"wd": SchedLin(0.0, 0.1)}))
    assert learn.opt.hypers[0]["wd"] == pytest.approx(0.1 * 7 / 8)
    with pytest.raises(ValueError, match="no hyper-parameter"):
        with learn.no_bar():
            learn.fit(1, cbs=ParamScheduler({"mom": SchedLin(0.9, 0.8)}))


def test_fine_tune_freezes_then_unfreezes(make_regression):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    learn = Learner(
        make_regression(),
        model,
        nn.MSELoss(),
        splitter=lambda m: [[*m[0].parameters(), *m[1].parameters()], m[2].parameters()],
    )
    body_w = model[0].weight.detach().clone()
    bn_w = model[1].weight.detach().clone()
    learn.freeze()
    with learn.no_bar():
        learn.fit(1)
    assert torch.equal(model[0].weight, body_w)  # frozen
    assert not torch.equal(model[1].weight, bn_w)  # batch norm stays trainable (train_bn)
    with learn.no_bar():
        learn.fine_tune(1, base_lr=1e-2, freeze_epochs=1)
    assert not torch.equal(model[0].weight, body_w)
    lrs = [h["lr"] for h in learn.opt.hypers]
    assert lrs[0] < lrs[1]


def test_weight_decay_skips_bn_and_bias_unless_asked(make_regression):
    def run(wd_bn_bias, decouple_wd):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
        before = {k: v.detach().clone() for k, v in model.named_parameters()}

        def opt_func(params, lr):
            return SGD(params, lr=lr, wd=0.5, decouple_wd=decouple_wd)

        def zero_loss(pred, y):
            return (pred * 0).sum()  # zero gradients: only weight decay moves the weights

        learn = Learner(
            make_regression(n=16, bs=16), model, zero_loss, opt_func=opt_func, lr=0.1, wd_bn_bias=wd_bn_bias
        )
        with learn.no_bar():
            learn.fit(1)  # one step
        return before, {k: v.detach() for k, v in model.named_parameters()}

    for decouple in (True, False):
        before, after = run(wd_bn_bias=False, decouple_wd=decouple)
        assert torch.allclose(after["0.weight"], before["0.weight"] * (1 - 0.1 * 0.5))  # decayed by lr * wd
        for name in ("0.bias", "1.weight", "1.bias", "2.bias"):
            assert torch.allclose(after[name], before[name]), name
        before, after = run(wd_bn_bias=True, decouple_wd=decouple)
        assert torch.allclose(after["1.weight"], before["1.weight"] * 0.95)
        assert torch.allclose(after["0.bias"], before["0.bias"] * 0.95)
