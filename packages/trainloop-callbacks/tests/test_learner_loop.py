"""The loop: exact event sequence, cancellation, callback ordering and errors, typed data, bad input."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pluggable_optim import SGD
from trainloop_callbacks import (
    BCEWithLogitsLossFlat,
    Callback,
    CancelBatchException,
    CancelEpochException,
    CancelFitException,
    CancelStepException,
    CancelTrainException,
    CancelValidException,
    CrossEntropyLossFlat,
    Event,
    Learner,
    MSELossFlat,
    Recorder,
    TrainEvalCallback,
)
from trainloop_callbacks.loop.callback import sort_by_run

ALL_EVENTS = [e.value for e in Event]


class EventLog(Callback):
    """Records every event it sees, with the batch index for batch events."""

    def __init__(self):
        self.seen = []

    def __getattr__(self, name):
        if name in ALL_EVENTS:
            return lambda: self.seen.append(name)
        raise AttributeError(name)


class CancelAt(Callback):
    def __init__(self, event, exc, epoch=0, it=None, training=None):
        self.event, self.exc, self.epoch, self.it, self.training = event, exc, epoch, it, training

    def __getattr__(self, name):
        if name == self.event:
            return self._maybe_cancel
        raise AttributeError(name)

    def _maybe_cancel(self):
        learn = self.learn
        right_phase = self.training is None or learn.training == self.training
        if learn.epoch == self.epoch and right_phase and (self.it is None or learn.iter == self.it):
            raise self.exc


TRAIN_BATCH = [
    "before_batch",
    "after_pred",
    "after_loss",
    "before_backward",
    "after_backward",
    "before_step",
    "after_step",
    "after_batch",
]
VALID_BATCH = ["before_batch", "after_pred", "after_loss", "after_batch"]


@pytest.fixture
def mk(make_regression):
    def _mk(dls=None, **kw):
        torch.manual_seed(0)
        dls = dls or make_regression(n=48, bs=16)  # 3 training batches, 2 validation batches
        kw.setdefault("opt_func", SGD)
        return Learner(dls, nn.Linear(3, 1), nn.MSELoss(), lr=0.01, **kw)

    return _mk


def test_exact_event_sequence_with_cancelled_batch(mk):
    log = EventLog()
    learn = mk(
        cbs=[log, CancelAt("before_batch", CancelBatchException, epoch=0, it=1, training=True)], default_cbs=False
    )
    learn.add_cb(TrainEvalCallback())
    learn.fit(2)
    cancelled = ["before_batch", "after_cancel_batch", "after_batch"]
    epoch0 = [
        "before_epoch",
        "before_train",
        *TRAIN_BATCH,
        *cancelled,
        *TRAIN_BATCH,
        "after_train",
        "before_validate",
        *VALID_BATCH,
        *VALID_BATCH,
        "after_validate",
        "after_epoch",
    ]
    epoch1 = [
        "before_epoch",
        "before_train",
        *TRAIN_BATCH * 3,
        "after_train",
        "before_validate",
        *VALID_BATCH * 2,
        "after_validate",
        "after_epoch",
    ]
    assert log.seen == ["before_fit", *epoch0, *epoch1, "after_fit"]


def _cancel_run(mk, event, exc):
    log = EventLog()
    log.order = -100  # sees each event before the canceller raises
    learn = mk(cbs=[CancelAt(event, exc), log])
    with learn.no_bar():
        learn.fit(1)
    return log.seen


def test_cancel_fit(mk):
    assert _cancel_run(mk, "before_epoch", CancelFitException) == [
        "before_fit",
        "before_epoch",
        "after_cancel_fit",
        "after_fit",
    ]


def test_cancel_epoch_skips_training_and_validation(mk):
    seen = _cancel_run(mk, "before_train", CancelEpochException)
    assert seen == ["before_fit", "before_epoch", "before_train", "after_cancel_epoch", "after_epoch", "after_fit"]


def test_cancel_train_goes_on_to_validation(mk):
    seen = _cancel_run(mk, "before_train", CancelTrainException)
    i = seen.index("before_train")
    assert seen[i : i + 4] == ["before_train", "after_cancel_train", "after_train", "before_validate"]
    assert seen.count("before_batch") == 2  # the two validation batches only


def test_cancel_validate(mk):
    # before_validate runs while `training` is still True: TrainEvalCallback switches it off in that event
    seen = _cancel_run(mk, "before_validate", CancelValidException)
    i = seen.index("before_validate")
    assert seen[i:] == ["before_validate", "after_cancel_validate", "after_validate", "after_epoch", "after_fit"]


def test_cancel_step_skips_the_update_but_not_the_batch(mk):
    learn = mk(cbs=CancelAt("before_step", CancelStepException, epoch=0))
    before = [p.detach().clone() for p in learn.model.parameters()]
    with learn.no_bar():
        learn.fit(1)
    for a, b in zip(before, learn.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert len(learn.recorder.losses) == 3  # batches still ran to after_batch


def test_cancel_backward_leaves_no_grads(mk):
    class NoBackward(Callback):
        def before_backward(self):
            raise __import__("trainloop_callbacks").CancelBackwardException

        def before_step(self):
            self.grads = [p.grad for p in self.learn.model.parameters()]

    cb = NoBackward()
    learn = mk(cbs=cb)
    with learn.no_bar():
        learn.fit(1)
    assert all(g is None for g in cb.grads)


def test_order_and_run_before_after():
    class A(Callback):
        order = 10

    class B(Callback):
        order = 5

    class C(Callback):
        order = 20
        run_before = (B,)

    class D(Callback):
        order = 0
        run_after = ("A",)

    a, b, c, d = A(), B(), C(), D()
    # by order D(0) B(5) A(10) C(20); D must wait for A and B for C: the earliest eligible goes first each time
    assert sort_by_run([a, b, c, d]) == [a, d, c, b]
    assert sort_by_run([b, a]) == [b, a]


class _A(Callback):
    order = 10


class _B(Callback):
    order = 5


# a single class (fastai's usual form), a single name (never read as its characters), or a collection of either
@pytest.mark.parametrize(
    ("before", "after"),
    [(_B, _A), ("_B", "_A"), ({_B}, ["_A"]), ([_B], (_A,))],
    ids=["single-classes", "single-names", "collections-of-names-and-classes", "list-and-tuple"],
)
def test_run_before_after_forms(before, after, mk):
    class C(Callback):
        order = 20
        run_before = before

    class D(Callback):
        order = 0
        run_after = after

    a, b, c, d = _A(), _B(), C(), D()
    assert sort_by_run([a, b, c, d]) == [a, d, c, b]  # as in test_order_and_run_before_after
    learn = mk(cbs=[a, b, c, d])
    assert [cb for cb in learn.cbs if cb in (a, b, c, d)] == [a, d, c, b]


def test_run_before_of_the_wrong_type_is_refused():
    class E(Callback):
        run_before = 3

    with pytest.raises(TypeError, match=r"E.run_before must be a callback class, a class name.*got 3"):
        sort_by_run([E(), Callback()])


def test_cyclic_constraints_are_refused():
    class A(Callback):
        run_before = ("B",)

    class B(Callback):
        run_before = ("A",)

    with pytest.raises(ValueError, match="cycle"):
        sort_by_run([A(), B()])


def test_exception_in_callback_names_callback_and_event(mk):
    class Broken(Callback):
        def after_loss(self):
            raise RuntimeError("boom")

    learn = mk(cbs=Broken())
    with pytest.raises(RuntimeError, match=r"Broken.*after_loss.*boom"):
        with learn.no_bar():
            learn.fit(1)


def test_callbacks_read_and_write_learner_state(mk):
    class DoubleLoss(Callback):
        def after_loss(self):
            self.learn.loss_grad = self.learn.loss_grad * 0  # zero loss: no gradient, no change

    learn = mk(opt_func=SGD)
    before = [p.detach().clone() for p in learn.model.parameters()]
    with learn.no_bar():
        learn.fit(1, cbs=DoubleLoss())
    assert all(torch.equal(a, b) for a, b in zip(before, learn.model.parameters(), strict=True))


def test_fit_cbs_live_for_one_call_and_add_remove(mk):
    learn = mk()
    log = EventLog()
    with learn.no_bar():
        learn.fit(1, cbs=log)
    assert log not in learn.cbs and not hasattr(log, "learn")  # detached
    learn.add_cb(log)
    assert learn.event_log is log
    learn.remove_cb(log)
    assert not hasattr(learn, "event_log")
    with learn.added_cbs(log):
        assert log in learn.cbs
    assert log not in learn.cbs
    with learn.removed_cbs(learn.recorder):
        assert all(not isinstance(c, Recorder) for c in learn.cbs)
    assert isinstance(learn.recorder, Recorder)


def test_two_callbacks_of_one_class_both_run_under_their_own_names(mk):
    first, second, third = EventLog(), EventLog(), EventLog()
    learn = mk(cbs=[first, second])
    assert learn.event_log is first and learn.event_log_1 is second and first in learn.cbs and second in learn.cbs
    with learn.no_bar():
        learn.fit(1, cbs=third)  # a third for one fit: numbered after the others, gone afterwards
    assert third.name == "event_log_2" and not hasattr(learn, "event_log_2")
    assert first.seen == second.seen == third.seen and "after_batch" in first.seen
    learn.remove_cb(first)
    assert not hasattr(learn, "event_log") and learn.event_log_1 is second
    with learn.removed_cbs(second):
        assert not hasattr(learn, "event_log_1")
    assert learn.event_log_1 is second  # put back under the name it had


def test_unique_callbacks_are_replaced_and_put_back_after_a_fit(mk):
    learn = mk()
    default = learn.recorder
    mine = Recorder(train_metrics=True)
    with learn.no_bar():
        learn.fit(1, cbs=mine)  # stands in for the default Recorder during this fit only
    assert len(mine.values) == 1 and default.values == []
    assert learn.recorder is default and default in learn.cbs and mine not in learn.cbs
    assert sum(isinstance(c, Recorder) for c in learn.cbs) == 1
    learn.add_cb(mine)
    assert learn.recorder is mine and default not in learn.cbs


def test_a_callback_named_like_a_learner_attribute_is_refused(mk):
    class Model(Callback):
        pass

    learn = mk()
    model = learn.model
    with pytest.raises(ValueError, match=r"Model would be stored as learn.model.*rename"):
        learn.add_cb(Model())
    assert learn.model is model


def test_removing_a_callback_during_fit_is_safe(mk):
    class RemoveOther(Callback):
        order = -5

        def __init__(self, victim):
            self.victim = victim

        def after_batch(self):
            if self.learn.train_iter == 1:
                self.learn.remove_cb(self.victim)

    log = EventLog()
    log.order = 0
    learn = mk(cbs=[RemoveOther(log), log])
    with learn.no_bar():
        learn.fit(2)
    # removed in the first batch's after_batch, before its own turn in that event: it saw one before_batch only
    assert log.seen.count("after_batch") == 0
    assert log.seen.count("before_batch") == 1
    assert log not in learn.cbs


def test_show_training_loop_lists_callbacks(mk, capsys):
    learn = mk()
    learn.show_training_loop()
    out = capsys.readouterr().out
    assert "before_fit" in out and "after_fit" in out
    assert "TrainEvalCallback" in out.splitlines()[0]
    assert out.index("before_batch") < out.index("after_pred") < out.index("after_batch")


def test_callback_state_dict_round_trip(mk):
    learn = mk()
    with learn.no_bar():
        learn.fit(2)
    state = learn.recorder.state_dict()
    other = Recorder()
    other.load_state_dict(state)
    assert other.values == learn.recorder.values
    assert other.loss_values == pytest.approx(learn.recorder.loss_values)
    with pytest.raises(ValueError, match="keeps no state"):
        Callback().load_state_dict({"x": 1})


class Typed(torch.Tensor):
    """A tensor subclass like typedtensor's, counting __torch_function__ calls."""

    calls = 0
    wrapped = 0

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        Typed.calls += 1
        return super().__torch_function__(func, types, args, kwargs or {})

    @classmethod
    def wrap(cls, t, like=None):
        Typed.wrapped += 1
        return t.as_subclass(cls)


def test_model_and_loss_see_plain_tensors_preds_get_type_back(make_classification):
    tdl, vdl = make_classification(n=48, bs=16)

    def typed(dl):
        return [(x.as_subclass(Typed), y.as_subclass(Typed)) for x, y in dl]

    seen = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 3)

        def forward(self, x):
            seen.append(type(x))
            return self.lin(x)

    def loss(pred, y):
        seen.append(type(y))
        return nn.functional.cross_entropy(pred, y)

    learn = Learner((typed(tdl), typed(vdl)), Spy(), loss, opt_func=SGD, lr=0.1)
    Typed.calls = 0
    with learn.no_bar():
        learn.fit(1)
    assert set(seen) == {torch.Tensor}
    preds, targs = learn.get_preds()
    assert type(preds) is Typed and Typed.wrapped >= 1
    assert type(targs) is Typed


@pytest.mark.filterwarnings("ignore:Using a target size")
def test_loss_shape_mismatch_names_shapes_and_loss():
    x, y = torch.randn(32, 3), torch.randn(32, 3)
    dl = DataLoader(TensorDataset(x, y), batch_size=16)
    learn = Learner((dl, dl), nn.Linear(3, 2), nn.MSELoss(), opt_func=SGD)
    with pytest.raises(ValueError, match=r"MSELoss.*shape \(16, 2\).*\(16, 3\)"):
        with learn.no_bar():
            learn.fit(1)


def test_empty_training_loader_is_a_clear_error():
    empty = DataLoader(TensorDataset(torch.zeros(3, 3), torch.zeros(3, 1)), batch_size=8, drop_last=True)
    learn = Learner((empty, empty), nn.Linear(3, 1), nn.MSELoss(), opt_func=SGD)
    with pytest.raises(ValueError, match="training data is empty"):
        learn.fit(1)


def test_bad_dls_and_missing_loss(make_regression):
    with pytest.raises(TypeError, match=r"\.train and \.valid"):
        Learner(object(), nn.Linear(3, 1), nn.MSELoss())
    with pytest.raises(ValueError, match="loss_func"):
        Learner(make_regression(), nn.Linear(3, 1))


class FakeData:
    """Data that declare their loss the way datablock's target blocks do: `loss_kind` and `c`."""

    n_inp = 1

    def __init__(self, train, valid, loss_kind, c, **attrs):
        self.train, self.valid, self.loss_kind, self.c = train, valid, loss_kind, c
        for k, v in attrs.items():
            setattr(self, k, v)


@pytest.mark.parametrize(
    ("kind", "cls"), [("cross_entropy", CrossEntropyLossFlat), ("bce", BCEWithLogitsLossFlat), ("mse", MSELossFlat)]
)
def test_default_loss_from_the_datas_loss_kind(kind, cls, make_regression):
    data = FakeData(*make_regression(), loss_kind={"kind": kind, "axis": -1}, c=1)
    learn = Learner(data, nn.Linear(3, 1))
    assert type(learn.loss_func) is cls and learn.loss_func.axis == -1
    mine = nn.L1Loss()
    assert Learner(FakeData(*make_regression(), {"kind": kind}, 1, loss_func=mine), nn.Linear(3, 1)).loss_func is mine
    assert Learner(data, nn.Linear(3, 1), mine).loss_func is mine  # an explicit loss_func wins
    with pytest.raises(ValueError, match=r"loss_kind .*'hinge'.* cannot be read"):
        Learner(FakeData(*make_regression(), {"kind": "hinge"}, 1), nn.Linear(3, 1))
    with pytest.raises(ValueError, match=r"needs a loss_func.*dls.loss_kind"):
        Learner(FakeData(*make_regression(), None, None), nn.Linear(3, 1))


def test_masks_default_to_cross_entropy_over_axis_1():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 2, 3, 5, generator=g)
    y = (x[:, 0] > x[:, 1]).long()  # a (N, H, W) mask: class 1 where channel 0 is larger
    dl = DataLoader(TensorDataset(x, y), batch_size=4)
    data = FakeData(dl, dl, loss_kind={"kind": "cross_entropy", "axis": 1}, c=2)
    torch.manual_seed(0)
    learn = Learner(data, nn.Conv2d(2, 2, 1), opt_func=SGD, lr=0.5)
    assert type(learn.loss_func) is CrossEntropyLossFlat and learn.loss_func.axis == 1
    with learn.no_bar():
        learn.fit(3)
    out = learn.model(x)
    assert torch.allclose(learn.loss_func(out, y), torch.nn.functional.cross_entropy(out, y))
    assert learn.recorder.values[-1][1] < learn.recorder.values[0][1]


def test_training_actually_learns(mk, make_regression):
    learn = mk(dls=make_regression(n=256, bs=32))
    with learn.no_bar():
        learn.fit(10, lr=0.1)
    assert learn.recorder.values[-1][1] < 0.01  # valid mse of a noiseless linear target


def test_an_error_inside_fit_leaves_the_learner_usable(mk, capsys):
    class FailOnce(Callback):
        def before_validate(self):
            raise KeyError("x")

    learn = mk()
    with pytest.raises(KeyError, match="FailOnce"):
        learn.fit(1, cbs=FailOnce())
    assert learn.logger is print and not learn.training
    assert all(not isinstance(c, FailOnce) for c in learn.cbs)
    learn.fit(1)
    assert "valid_loss" in capsys.readouterr().out


@pytest.mark.gpu
def test_cpu_batches_train_a_cuda_model(make_classification):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).cuda()
    learn = Learner(make_classification(), model, nn.CrossEntropyLoss(), lr=1e-2)
    with learn.no_bar():
        learn.fit(2)
    assert learn.pred.device.type == "cuda" and learn.yb[0].device.type == "cuda"
    assert isinstance(learn.smooth_loss, torch.Tensor)  # kept on the device: no sync per batch
    preds, targs = learn.get_preds()
    assert preds.device.type == "cpu" and len(targs) == 48
    assert learn.recorder.values[-1][1] < learn.recorder.values[0][1]


class RecordingData:
    """The data protocol with `to`: records `to` calls and, per batch, the device its `after_batch` ran on
    (a datablock loader moves a batch to its device, then runs the batch transforms there)."""

    n_inp = 1

    def __init__(self, train, valid, device="absent"):
        self.train, self.valid = _RecordingLoader(self, train), _RecordingLoader(self, valid)
        self.calls = []
        if device != "absent":
            self.device = None if device is None else torch.device(device)

    def to(self, device):
        self.calls.append(("to", torch.device(device)))
        self.device = torch.device(device)
        return self


class _RecordingLoader:
    def __init__(self, owner, batches):
        self.owner, self.batches = owner, list(batches)

    def __len__(self):
        return len(self.batches)

    @property
    def device(self):
        return getattr(self.owner, "device", None)

    def to(self, device):
        self.owner.to(device)
        return self

    def __iter__(self):
        for b in self.batches:
            device = getattr(self.owner, "device", None) or torch.device("cpu")
            b = tuple(t.to(device) for t in b)
            self.owner.calls.append(("after_batch", b[0].device))  # where the batch augmentation would run
            yield b


@pytest.mark.parametrize("device", ["absent", "meta"], ids=["no-device-attribute", "data-elsewhere"])
def test_data_goes_to_the_model_device_before_the_first_batch(device, make_regression):
    tdl, vdl = make_regression(n=32, bs=16)
    data = RecordingData(tdl, vdl, device=device)
    torch.manual_seed(0)
    learn = Learner(data, nn.Linear(3, 1), nn.MSELoss(), opt_func=SGD, lr=0.01)
    with learn.no_bar():
        learn.fit(1)
    cpu = torch.device("cpu")
    assert data.calls[0] == ("to", cpu)  # before the first batch
    assert data.calls.count(("to", cpu)) == 1 and data.calls.count(("after_batch", cpu)) == 4
    learn.fit(1)  # already there: not sent again
    assert data.calls.count(("to", cpu)) == 1


def test_data_built_on_the_cpu_stays_and_plain_loaders_still_work(make_regression):
    tdl, vdl = make_regression(n=32, bs=16)
    data = RecordingData(tdl, vdl, device=None)  # datablock's "where they were built": the CPU
    learn = Learner(data, nn.Linear(3, 1), nn.MSELoss(), opt_func=SGD, lr=0.01)
    with learn.no_bar():
        learn.fit(1)
    assert not [c for c in data.calls if c[0] == "to"]
    extra = RecordingData([], vdl, device="meta").valid  # a loader given to get_preds goes there too
    preds, _ = learn.get_preds(dl=extra)
    assert preds.shape == (32, 1) and extra.owner.calls[0] == ("to", torch.device("cpu"))
    learn = Learner((tdl, vdl), nn.Linear(3, 1), nn.MSELoss(), opt_func=SGD, lr=0.01)  # plain torch loaders
    with learn.no_bar():
        learn.fit(1)
    assert learn.xb[0].device.type == "cpu" and len(learn.recorder.values) == 1


@pytest.mark.gpu
def test_batch_transforms_run_on_the_model_gpu(make_regression):
    tdl, vdl = make_regression(n=32, bs=16)
    data = RecordingData(tdl, vdl, device=None)
    learn = Learner(data, nn.Linear(3, 1).cuda(), nn.MSELoss(), opt_func=SGD, lr=0.01)
    with learn.no_bar():
        learn.fit(1)
    assert data.calls[0][0] == "to" and data.calls[0][1].type == "cuda"
    assert {c[1].type for c in data.calls if c[0] == "after_batch"} == {"cuda"}


def test_fit_refuses_a_cbs_item_that_is_not_a_callback(mk):
    learn = mk()
    with pytest.raises(TypeError, match=r"fit's cbs must be Callbacks .*str 'TensorBoardCallback'"):
        learn.fit(1, cbs="TensorBoardCallback")  # a name, not the callback


def test_a_boolean_ds_idx_is_refused(mk):
    learn = mk()
    learn.fit(1)
    with pytest.raises(ValueError, match=r"ds_idx must be 0 .* got True"):
        learn.get_preds(ds_idx=True)  # True == 1 would silently mean the validation set
