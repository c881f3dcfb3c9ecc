"""ULMFiT learners: `language_model_learner` → `LMLearner`, `text_classifier_learner` → `TextLearner`.

Both add `ModelResetter` (a new stream each phase), `RNNCallback` (keep only the logits of the model's output
tuple for the loss) and `RNNRegularizer` (AR/TAR with fastai's `alpha=2, beta=1`), and use fastai's momentums
`(0.8, 0.7, 0.8)`. `save_encoder`/`load_encoder` move the fine-tuned encoder from the one to the other.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from apps_text.models import _meta, get_language_model, get_text_classifier
from apps_text.numericalize import Numericalize
from apps_text.tokenize import decode_tokens
from trainloop_callbacks import Callback, CrossEntropyLossFlat, Learner
from trainloop_callbacks.models.model_utils import ModelResetter

__all__ = [
    "RNNCallback",
    "RNNRegularizer",
    "TextLearner",
    "LMLearner",
    "language_model_learner",
    "text_classifier_learner",
    "get_text_vocab",
]


def _learner(cb: Callback) -> Learner:
    """The learner `cb` is attached to (set by `Learner.add_cb`)."""
    learn: Learner | None = getattr(cb, "learn", None)  # reading `cb.learn` unattached raises AttributeError
    if learn is None:
        raise RuntimeError(f"{type(cb).__name__} is not attached to a Learner")
    return learn


class RNNCallback(Callback):
    """Keep the logits of the model's `(logits, raw_out, out)` output as `learn.pred`; the other two are kept here
    for `RNNRegularizer`."""

    order = -10  # before the loss and the metrics see pred

    def after_pred(self) -> None:
        learn = _learner(self)
        pred = learn.pred
        if isinstance(pred, (tuple, list)) and len(pred) == 3:
            learn.pred, self.raw_out, self.out = pred


class RNNRegularizer(Callback):
    """Activation regularization (`alpha` * mean of the dropped-out outputs squared) and temporal activation
    regularization (`beta` * mean squared change between time steps of the raw outputs), training only."""

    order = RNNCallback.order + 1

    def __init__(self, alpha: float = 0.0, beta: float = 0.0) -> None:
        self.alpha, self.beta = alpha, beta

    def after_loss(self) -> None:
        learn = _learner(self)
        if not learn.training:
            return
        rnn = next((c for c in learn.cbs if isinstance(c, RNNCallback)), None)
        if rnn is None or not hasattr(rnn, "out"):
            return
        if self.alpha:
            learn.loss_grad = learn.loss_grad + self.alpha * rnn.out.float().pow(2).mean()
        if self.beta:
            h = rnn.raw_out
            if h.shape[1] > 1:
                learn.loss_grad = learn.loss_grad + self.beta * (h[:, 1:] - h[:, :-1]).float().pow(2).mean()


def get_text_vocab(dls: Any) -> list[str]:
    """The token vocabulary of `dls`' text input (its `Numericalize`), for sizing the model's embedding."""
    vocab = getattr(dls, "text_vocab", None)
    if vocab is not None:
        return list(vocab)
    ds = getattr(dls, "train_ds", None)
    for tl in getattr(ds, "tls", [ds]):
        for t in getattr(getattr(tl, "tfms", None), "fs", []):
            if isinstance(t, Numericalize) and t.vocab is not None:
                return list(t.vocab)
    raise ValueError(
        f"cannot find the text vocabulary of {type(dls).__name__}: expected a Numericalize step in its training "
        "dataset (build the data with TextBlock / TextDataLoaders)"
    )


class TextLearner(Learner):
    """A `Learner` for text models: RNN callbacks, fastai's momentums, and encoder transfer."""

    config_safe = True  # export records the class; load_learner rebuilds it

    def __init__(
        self,
        dls: Any,
        model: nn.Module,
        loss_func: Any = None,
        alpha: float = 2.0,
        beta: float = 1.0,
        moms: tuple[float, float, float] = (0.8, 0.7, 0.8),
        **kwargs: Any,
    ) -> None:
        if loss_func is None:
            loss_func = CrossEntropyLossFlat()
        super().__init__(dls, model, loss_func, moms=moms, **kwargs)
        self.add_cbs([ModelResetter(), RNNCallback(), RNNRegularizer(alpha=alpha, beta=beta)])

    def _file(self, file: str | Path) -> Path:
        p = Path(file)
        return p if p.suffix else (self.path / self.model_dir / f"{file}.pth")

    def _encoder(self) -> nn.Module:
        enc = next(self.model.children())
        return getattr(enc, "module", enc)  # a classifier's SentenceEncoder wraps the AWD_LSTM

    def save_encoder(self, file: str | Path) -> Path:
        """Save the encoder's weights (embedding and LSTMs) to `models/<file>.pth`."""
        dest = self._file(file)
        dest.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self._encoder().state_dict(), dest)
        return dest

    def load_encoder(self, file: str | Path, device: Any = None) -> TextLearner:
        """Load encoder weights saved by `save_encoder` (the vocabularies must match), then freeze all but the
        head, as fastai."""
        src = self._file(file)
        enc = self._encoder()
        wgts = torch.load(src, map_location=device or next(enc.parameters()).device, weights_only=True)
        mine = enc.state_dict()
        bad = [k for k in wgts if k in mine and wgts[k].shape != mine[k].shape]
        if bad:
            k = bad[0]
            raise ValueError(
                f"load_encoder: {src} does not fit this model: {k} is {tuple(wgts[k].shape)} there and "
                f"{tuple(mine[k].shape)} here (build the classifier's data with text_vocab= the language model's vocab)"
            )
        enc.load_state_dict(wgts)
        self.freeze()
        return self


class LMLearner(TextLearner):
    """A `TextLearner` for language models; `predict(text, n_words)` continues a text."""

    def predict(  # type: ignore[override]  # fastai's LM predict(text, n_words): a continuation, not a label
        self,
        text: str,
        n_words: int = 1,
        no_unk: bool = True,
        temperature: float = 1.0,
        top_k: int | None = None,
        decoder: Any = decode_tokens,
        generator: torch.Generator | None = None,
    ) -> str:
        """`text` followed by `n_words` tokens sampled from the model (softmax at `temperature`, from the `top_k` most
        likely when given; `xxunk` never chosen with `no_unk`), decoded to readable text."""
        vocab = get_text_vocab(self.dls)
        docs = getattr(self.dls.valid, "docs", None) or getattr(self.dls.train, "docs", None)
        if docs is None:
            raise ValueError("LMLearner.predict: needs language-model data (an LMDataLoader) to encode the text")
        ids = docs.new([text], split_idx=1, with_labels=False)[0][0].as_subclass(torch.Tensor)
        model = self.model.eval()
        device = next(model.parameters()).device
        reset = getattr(model, "reset", None)
        if not callable(reset):
            raise TypeError(
                f"LMLearner.predict: the model ({type(model).__name__}) has no reset() for its hidden state"
            )
        reset()
        new: list[int] = []
        inp = ids[None].to(device)
        with torch.no_grad():
            for _ in range(n_words):
                logits = model(inp)[0][0, -1].float()
                if no_unk:
                    logits[0] = -float("inf")
                if top_k is not None:
                    kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
                    logits[logits < kth] = -float("inf")
                probs = torch.softmax(logits / max(temperature, 1e-6), dim=-1)
                idx = int(torch.multinomial(probs.cpu(), 1, generator=generator))
                new.append(idx)
                inp = torch.tensor([[idx]], device=device)
        return decoder([vocab[i] for i in ids.tolist()] + [vocab[i] for i in new])


def language_model_learner(
    dls: Any,
    arch: Any,
    config: dict[str, Any] | None = None,
    drop_mult: float = 1.0,
    pretrained: bool = True,
    **kwargs: Any,
) -> LMLearner:
    """A language-model learner on `dls` (from `TextDataLoaders(..., is_lm=True)`), `arch` (e.g. `AWD_LSTM`) with
    its LM configuration updated by `config` and dropouts scaled by `drop_mult` (1.0 as fastai).

    Nothing is downloaded: `pretrained=True` (fastai's default, which would download WikiText-103 weights) warns and
    starts from scratch; pass `pretrained=False` to say so."""
    vocab = get_text_vocab(dls)
    model = get_language_model(arch, len(vocab), config=config, drop_mult=drop_mult)
    meta = _meta(arch)
    learn = LMLearner(dls, model, loss_func=CrossEntropyLossFlat(), splitter=meta["split_lm"], **kwargs)
    if pretrained:
        warnings.warn(
            "language_model_learner: no pretrained weights are downloaded here; training from scratch "
            "(pass pretrained=False to say so)",
            stacklevel=2,
        )
    return learn


def text_classifier_learner(
    dls: Any,
    arch: Any,
    seq_len: int = 72,
    config: dict[str, Any] | None = None,
    pretrained: bool = True,
    drop_mult: float = 0.5,
    n_out: int | None = None,
    lin_ftrs: Sequence[int] | None = None,
    ps: Sequence[float] | None = None,
    max_len: int = 72 * 20,
    y_range: Sequence[float] | None = None,
    **kwargs: Any,
) -> TextLearner:
    """A classifier learner: `SentenceEncoder` over `arch` (classifier configuration updated by `config`, dropouts
    scaled by `drop_mult`, 0.5 as fastai) + masked concat pooling head; splitter for gradual unfreezing
    (`freeze_to(-2)`, ...). Load a fine-tuned language model's encoder with `load_encoder`."""
    vocab = get_text_vocab(dls)
    if n_out is None:
        n_out = getattr(dls, "c", None)
    if not n_out:
        raise ValueError("text_classifier_learner: cannot tell the number of classes from dls; pass n_out=")
    model = get_text_classifier(
        arch, len(vocab), int(n_out), seq_len=seq_len, config=config, drop_mult=drop_mult, lin_ftrs=lin_ftrs, ps=ps,
        max_len=max_len, y_range=y_range,
    )  # fmt: skip
    meta = _meta(arch)
    learn = TextLearner(dls, model, splitter=meta["split_clas"], **kwargs)
    if pretrained:
        warnings.warn(
            "text_classifier_learner: no pretrained weights are downloaded here; fine-tune a language model and "
            "load_encoder() its encoder, or pass pretrained=False",
            stacklevel=2,
        )
    return learn
