"""get_preds, predict, validate, show_results and interpretation."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pluggable_optim import Adam
from trainloop_callbacks import ClassificationInterpretation, CrossEntropyLossFlat, Learner
from trainloop_callbacks.metrics import accuracy


@pytest.fixture
def trained(make_classification):
    torch.manual_seed(0)
    dls = make_classification(n=96, bs=16)
    learn = Learner(
        dls, nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)), CrossEntropyLossFlat(), metrics=accuracy
    )
    with learn.no_bar():
        learn.fit(3, lr=1e-2)
    return learn


def test_get_preds_against_a_manual_pass(trained):
    x, y = trained.dls.valid.dataset.tensors
    inp, preds, targs, dec, losses = trained.get_preds(with_input=True, with_decoded=True, with_loss=True)
    with torch.no_grad():
        out = trained.model.eval()(x)
    assert torch.allclose(preds, out.softmax(-1), atol=1e-6)
    assert torch.equal(targs, y) and torch.equal(inp, x)
    assert torch.equal(dec, out.argmax(-1))
    assert torch.allclose(losses, nn.functional.cross_entropy(out, y, reduction="none"), atol=1e-6)
    assert trained.loss_func.reduction == "mean"  # restored after with_loss


def test_get_preds_reorders_a_shuffled_loader(trained):
    x, y = trained.dls.valid.dataset.tensors
    shuffled = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    _, targs = trained.get_preds(dl=shuffled)
    assert torch.equal(targs, y)


def test_validate_matches_recorder_and_hand_accuracy(trained):
    loss, acc = trained.validate()
    x, y = trained.dls.valid.dataset.tensors
    with torch.no_grad():
        out = trained.model(x)
    assert loss == pytest.approx(float(nn.functional.cross_entropy(out, y)), rel=1e-5)
    assert acc == pytest.approx(float((out.argmax(-1) == y).float().mean()))
    assert trained.recorder.values[-1][1:] == pytest.approx([loss, acc])


def test_predict_tensor_and_through_data_hooks(trained):
    item = trained.dls.valid.dataset.tensors[0][0]
    dec, pred, probs = trained.predict(item)
    assert probs.shape == (3,) and int(pred) == int(probs.argmax()) and int(dec) == int(pred)

    class Hooked:
        """Data following the protocol's optional hooks: test_dl, decode_batch, vocab."""

        n_inp = 1

        def __init__(self, dls):
            self.train, self.valid = dls.train, dls.valid
            self.vocab = ["cat", "dog", "bird"]

        def test_dl(self, items):
            return DataLoader(TensorDataset(torch.stack(items)), batch_size=4)

        def decode_batch(self, b):
            xs, ys = b
            return [(x, self.vocab[int(y)]) for x, y in zip(xs, ys, strict=True)]

    trained.dls = Hooked(trained.dls)
    name, pred2, _ = trained.predict(item)
    assert name == ["cat", "dog", "bird"][int(pred)] and int(pred2) == int(pred)


def test_show_results_needs_the_hook(trained):
    with pytest.raises(ValueError, match="show_results"):
        trained.show_results()


def test_show_results_hands_the_batch_and_decoded_preds_to_the_hook(trained):
    calls = []

    class Shows:
        def __init__(self, dls):
            self.train, self.valid = dls.train, dls.valid

        def show_results(self, b, preds, max_n=9):
            calls.append((b, preds, max_n))
            return "picture"

    trained.dls = Shows(trained.dls)
    assert trained.show_results(max_n=4) == "picture"
    (x, y), preds, max_n = calls[0]
    x0, y0 = next(iter(trained.dls.valid))
    assert torch.equal(x, x0) and torch.equal(y, y0) and max_n == 4
    with torch.no_grad():
        assert torch.equal(preds, trained.model(x0).argmax(-1))


def test_classification_interpretation_vs_sklearn(trained, tmp_path, capsys):
    from sklearn.metrics import classification_report, confusion_matrix

    interp = ClassificationInterpretation.from_learner(trained)
    _, y = trained.dls.valid.dataset.tensors
    with torch.no_grad():
        pred = trained.model(trained.dls.valid.dataset.tensors[0]).argmax(-1)
    assert interp.confusion_matrix().tolist() == confusion_matrix(y, pred, labels=[0, 1, 2]).tolist()
    cm = interp.confusion_matrix()
    for actual, predicted, count in interp.most_confused():
        assert cm[actual, predicted] == count and actual != predicted
    values, _ = interp.top_losses(3)
    assert values.tolist() == sorted(interp.losses.tolist(), reverse=True)[:3]
    interp.print_classification_report()
    out = capsys.readouterr().out
    ref = classification_report(y, pred, output_dict=True, zero_division=0)
    assert f"{ref['0']['f1-score']:.2f}" in out and "accuracy" in out
    img = interp.plot_confusion_matrix(tmp_path / "cm.png")
    assert (tmp_path / "cm.png").exists() and img.size[0] > 100


def test_plots_render_to_files(trained, tmp_path):
    trained.recorder.plot_loss(tmp_path / "loss.png", skip_start=0)
    trained.recorder.plot_sched(tmp_path / "sched.png")
    assert (tmp_path / "loss.png").stat().st_size > 0 and (tmp_path / "sched.png").stat().st_size > 0


def test_progress_bar_is_on_by_default_and_writes_the_table(make_classification, capsys):
    torch.manual_seed(0)
    learn = Learner(make_classification(), nn.Linear(4, 3), CrossEntropyLossFlat(), opt_func=Adam)
    assert any(type(c).__name__ == "ProgressCallback" for c in learn.cbs)
    learn.fit(1)
    out = capsys.readouterr().out
    assert "train_loss" in out and "valid_loss" in out
    assert learn.logger is print  # restored after fit


class _MeanOfTokens(nn.Module):
    """Mean embedding of the non-padding (0) tokens: takes batches padded to their own length."""

    def __init__(self) -> None:
        super().__init__()
        self.emb, self.head = nn.Embedding(10, 4, padding_idx=0), nn.Linear(4, 2)

    def forward(self, x):
        keep = (x != 0).float()[..., None]
        return self.head((self.emb(x) * keep).sum(1) / keep.sum(1))


def _pad_collate(items):
    xs, ys = zip(*items, strict=True)
    width = max(len(x) for x in xs)
    return torch.stack([nn.functional.pad(x, (0, width - len(x))) for x in xs]), torch.stack(ys)


def test_interpretation_of_inputs_padded_per_batch():
    """Batches padded to different lengths (texts): inputs come back as a list of items, in dataset order."""
    torch.manual_seed(0)
    items = [(torch.randint(1, 10, (2 + i % 5,)), torch.tensor(i % 2)) for i in range(12)]
    dl = DataLoader(items, batch_size=4, collate_fn=_pad_collate)  # lengths per batch: 5, 6, 5 (with padding)
    learn = Learner((dl, dl), _MeanOfTokens(), CrossEntropyLossFlat())
    with learn.no_bar():
        interp = ClassificationInterpretation.from_learner(learn)
        preds, _ = learn.get_preds()
    assert isinstance(interp.inputs, list) and len(interp.inputs) == 12
    for (x, _), got in zip(items, interp.inputs, strict=True):
        assert torch.equal(got[: len(x)], x) and not got[len(x) :].any()  # the item, then its batch's padding
    with torch.no_grad():
        expected = torch.softmax(torch.cat([learn.model(b[0]) for b in dl]), -1)
    assert torch.allclose(preds, expected)
    values, idx = interp.top_losses(3)
    losses = nn.functional.cross_entropy(torch.log(expected), torch.stack([y for _, y in items]), reduction="none")
    assert torch.allclose(values, losses.sort(descending=True).values[:3]) and len(idx) == 3
    assert sum(c for *_, c in interp.most_confused()) == int((expected.argmax(-1) != interp.targs).sum())


class _OwnOrder:
    """A loader reading its items in an order of its own (`get_idxs`, like texts sorted by length)."""

    shuffle = False

    def __init__(self, x, y, order, bs):
        self.x, self.y, self.order, self.bs = x, y, order, bs

    def get_idxs(self):
        return list(self.order)

    def __iter__(self):
        for k in range(0, len(self.order), self.bs):
            idx = torch.tensor(self.order[k : k + self.bs])
            yield self.x[idx], self.y[idx]


def test_get_preds_puts_a_loaders_own_order_back_in_dataset_order():
    torch.manual_seed(0)
    x, y = torch.randn(10, 4), torch.randint(0, 3, (10,))
    dl = _OwnOrder(x, y, [3, 7, 0, 9, 1, 2, 8, 4, 6, 5], bs=4)
    learn = Learner((dl, dl), nn.Linear(4, 3), CrossEntropyLossFlat())
    with learn.no_bar():
        inp, preds, targs = learn.get_preds(with_input=True)
        _, unordered, _ = learn.get_preds(with_input=True, reorder=False)
    with torch.no_grad():
        expected = torch.softmax(learn.model(x), -1)
    assert torch.equal(inp, x) and torch.equal(targs, y) and torch.allclose(preds, expected)
    assert torch.allclose(unordered, expected[dl.order])
