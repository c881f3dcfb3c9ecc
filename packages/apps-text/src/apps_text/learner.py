"""ULMFiT learners: `language_model_learner` → `LMLearner`, `text_classifier_learner` → `TextLearner`.

Both add `ModelResetter` (a new stream each phase), `RNNCallback` (keep only the logits of the model's output
tuple for the loss) and `RNNRegularizer` (AR/TAR: fastai's `alpha=2, beta=1` for AWD_LSTM, none for the
Transformer), and use fastai's momentums `(0.8, 0.7, 0.8)`. `save_encoder`/`load_encoder` move the fine-tuned
encoder from the one to the other; `load_pretrained` reads local pretrained weights (`apps_text.pretrained`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from apps_text.models import LinearDecoder, _meta, get_language_model, get_text_classifier
from apps_text.numericalize import Numericalize
from apps_text.pretrained import PRETRAINED_VOCAB, PRETRAINED_WEIGHTS, match_embeds, pretrained_dir, read_pretrained
from apps_text.rules import UNK
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
        enc = next(self.model.children(), self.model)
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

    def load_pretrained(self, wgts_fname: str | Path, vocab_fname: str | Path, model: nn.Module | None = None) -> Any:
        """Load pretrained language-model weights (checksum verified, see `read_pretrained`) matched to this data's
        vocab (`match_embeds`: known tokens copied, new tokens at the mean embedding), then freeze all but the head,
        as fastai. A language model takes every weight; a classifier its encoder's (the decoder is dropped)."""
        wgts, old_vocab = read_pretrained(wgts_fname, vocab_fname)
        wgts = match_embeds(wgts, old_vocab, get_text_vocab(self.dls))
        target = self.model if model is None else model
        head = list(target.children())[1:2]
        if not (head and isinstance(head[0], LinearDecoder)):  # a classifier: the encoder's weights only
            target = self._encoder() if model is None else getattr(next(model.children()), "module", model)
            wgts = {k[2:]: v for k, v in wgts.items() if k.startswith("0.")}
        mine = target.state_dict()
        missing, unexpected = sorted(set(mine) - set(wgts)), sorted(set(wgts) - set(mine))
        bad = [k for k in mine if k in wgts and wgts[k].shape != mine[k].shape]
        if missing or unexpected or bad:
            detail = (f"{bad[0]} is {tuple(wgts[bad[0]].shape)} there and {tuple(mine[bad[0]].shape)} here" if bad
                      else f"missing {missing[:3]}, unexpected {unexpected[:3]}")  # fmt: skip
            raise ValueError(
                f"load_pretrained: {wgts_fname} does not fit this model ({detail}); build the learner with the "
                "architecture and config the weights were trained with"
            )
        target.load_state_dict(wgts)
        self.freeze()
        return self


class _NextToken:
    """Next-token logits of a language model for a batch of sequences that grow by one token per call.

    A stateful encoder (with `select_hidden`, as `AWD_LSTM`) reads only the new tokens and follows the rows that
    were kept (`parents`); a stateless one (`Transformer`) reads every sequence whole each time."""

    def __init__(self, model: nn.Module) -> None:
        reset = getattr(model, "reset", None)
        if not callable(reset):
            raise TypeError(f"LMLearner: the model ({type(model).__name__}) has no reset() for its state")
        reset()
        self.model, self.fed = model, 0
        enc = next(model.children(), model)
        self.enc = getattr(enc, "module", enc)
        self.incremental = callable(getattr(self.enc, "select_hidden", None))

    def __call__(self, seqs: Tensor, parents: Tensor | None = None) -> Tensor:
        if self.incremental:
            if parents is not None:
                self.enc.select_hidden(parents)  # type: ignore[operator]  # checked in __init__
            inp = seqs[:, self.fed :]
        else:
            inp = seqs
        self.fed = seqs.shape[1]
        out = self.model(inp)
        logits = out[0] if isinstance(out, (tuple, list)) else out
        return logits[:, -1].float()


class LMLearner(TextLearner):
    """A `TextLearner` for language models; `predict(text, n_words)` continues a text by sampling,
    `beam_search(text, n_words)` with the most likely continuation a beam finds."""

    def _context(self, text: str) -> tuple[Tensor, list[str], int | None]:
        """`text`'s token ids (through the data's pipeline), the vocab, and the index of `xxunk` (if any)."""
        vocab = get_text_vocab(self.dls)
        docs = getattr(self.dls.valid, "docs", None) or getattr(self.dls.train, "docs", None)
        if docs is None:
            raise ValueError("LMLearner: needs language-model data (an LMDataLoader) to encode the text")
        ids = docs.new([text], split_idx=1, with_labels=False)[0][0].as_subclass(torch.Tensor)
        return ids, vocab, (vocab.index(UNK) if UNK in vocab else None)

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
        ids, vocab, unk = self._context(text)
        model = self.model.eval()
        seqs = ids[None].to(next(model.parameters()).device)
        with torch.no_grad():
            step = _NextToken(model)
            for _ in range(n_words):
                logits = step(seqs)[0]
                if no_unk and unk is not None:
                    logits[unk] = -float("inf")
                if top_k is not None:
                    kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
                    logits[logits < kth] = -float("inf")
                probs = torch.softmax(logits / max(temperature, 1e-6), dim=-1)
                idx = int(torch.multinomial(probs.cpu(), 1, generator=generator))
                seqs = torch.cat([seqs, seqs.new_tensor([[idx]])], dim=1)
        return decoder([vocab[i] for i in seqs[0].tolist()])

    def beam_search(
        self,
        text: str,
        n_words: int = 1,
        no_unk: bool = True,
        top_k: int = 10,
        beam_sz: int = 1000,
        temperature: float = 1.0,
        sample: bool = False,
        decoder: Any = decode_tokens,
        generator: torch.Generator | None = None,
    ) -> str:
        """`text` followed by the `n_words` tokens of the most likely sequence a beam search finds (fastai's
        `beam_search` names): each step extends every kept sequence by its `top_k` most likely tokens and keeps the
        `beam_sz` sequences of highest log-probability (the model's softmax, renormalised without `xxunk` when
        `no_unk`). With `beam_sz >= top_k ** (n_words - 1)` and `top_k` the vocab size, the search is exhaustive.

        fastai draws the final sequence among the kept ones with probability `p ** (1 / temperature)`; that is
        `sample=True` here (with `generator`), while the default returns the most likely one (`temperature` unused).
        """
        if n_words < 0 or top_k < 1 or beam_sz < 1 or temperature <= 0:
            raise ValueError(f"beam_search: needs n_words >= 0, top_k >= 1, beam_sz >= 1 and temperature > 0; got "
                             f"{n_words}, {top_k}, {beam_sz}, {temperature}")  # fmt: skip
        ids, vocab, unk = self._context(text)
        model = self.model.eval()
        nodes = ids[None].to(next(model.parameters()).device)
        scores = torch.zeros(1, device=nodes.device)
        parents: Tensor | None = None
        with torch.no_grad():
            step = _NextToken(model)
            for _ in range(n_words):
                logits = step(nodes, parents)
                if no_unk and unk is not None:
                    logits[:, unk] = -float("inf")
                logp = F.log_softmax(logits, dim=-1)
                k = min(top_k, logp.shape[-1])
                vals, idxs = logp.topk(k, dim=-1)  # (beams, k)
                cand = (scores[:, None] + vals).reshape(-1)
                order = cand.argsort(descending=True, stable=True)[:beam_sz]
                order = order[cand[order] > -float("inf")]  # never a sequence through an impossible token
                parents, scores = order // k, cand[order]
                nodes = torch.cat([nodes[parents], idxs.reshape(-1)[order][:, None]], dim=1)
        best = 0
        if sample:
            weights = torch.softmax(scores.double().cpu() / temperature, dim=0)
            best = int(torch.multinomial(weights, 1, generator=generator))
        return decoder([vocab[i] for i in nodes[best].tolist()])


def _pretrained_files(
    learn: TextLearner, arch: Any, pretrained: bool, pretrained_fnames: Sequence[str | Path] | None, who: str
) -> tuple[Path, Path] | None:
    """The (weights, vocab) files to load, or None: `pretrained_fnames` (names without a suffix are read from
    `learn.path/models/` as `<name>.pth` and `<name>.json`, as fastai's `.pth`/`.pkl`), else the architecture's
    `pretrained_dir`; a clear error when `pretrained=True` finds no files."""
    if not pretrained:
        if pretrained_fnames is not None:
            raise ValueError(f"{who}: pretrained_fnames given with pretrained=False; pass pretrained=True to load them")
        return None
    if pretrained_fnames is not None:
        if isinstance(pretrained_fnames, (str, Path)) or len(pretrained_fnames) != 2:
            raise ValueError(f"{who}: pretrained_fnames must be (weights, vocab), got {pretrained_fnames!r}")
        w, v = (Path(f) for f in pretrained_fnames)
        base = learn.path / learn.model_dir
        w = w if w.suffix else base / f"{w}.pth"
        v = v if v.suffix else base / f"{v}.json"
        return w, v
    folder = pretrained_dir(arch)
    w, v = folder / PRETRAINED_WEIGHTS, folder / PRETRAINED_VOCAB
    if not (w.is_file() and v.is_file()):
        name = arch if isinstance(arch, str) else getattr(arch, "__name__", arch)
        raise FileNotFoundError(
            f"{who}: pretrained=True but no pretrained {name} language model was found (nothing is downloaded): "
            f"put its weights at {w} and its vocab at {v} (with their checksums, as save_pretrained writes them), "
            "or pass pretrained_fnames=(weights, vocab), or pretrained=False to train from scratch"
        )
    return w, v


def language_model_learner(
    dls: Any,
    arch: Any,
    config: dict[str, Any] | None = None,
    drop_mult: float = 1.0,
    pretrained: bool = True,
    pretrained_fnames: Sequence[str | Path] | None = None,
    **kwargs: Any,
) -> LMLearner:
    """A language-model learner on `dls` (from `TextDataLoaders(..., is_lm=True)`), `arch` (`AWD_LSTM` or
    `Transformer`) with its LM configuration updated by `config` and dropouts scaled by `drop_mult` (1.0 as fastai).

    With `pretrained` (fastai's default), weights and vocab come from local files, never a download:
    `pretrained_fnames=(weights, vocab)` or, without it, `pretrained_dir(arch)`; they are checksum verified and
    matched to the data's vocab (`load_pretrained`), and the model is frozen but for its last group, as fastai.
    `pretrained=True` without files is an error that says where to put them; `pretrained=False` starts from
    scratch."""
    vocab = get_text_vocab(dls)
    model = get_language_model(arch, len(vocab), config=config, drop_mult=drop_mult)
    meta = _meta(arch)
    alpha, beta = meta["alpha_beta"]
    kwargs = {"alpha": alpha, "beta": beta, **kwargs}
    learn = LMLearner(dls, model, loss_func=CrossEntropyLossFlat(), splitter=meta["split_lm"], **kwargs)
    files = _pretrained_files(learn, arch, pretrained, pretrained_fnames, "language_model_learner")
    if files is not None:
        learn.load_pretrained(*files)
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
    pretrained_fnames: Sequence[str | Path] | None = None,
    **kwargs: Any,
) -> TextLearner:
    """A classifier learner: `SentenceEncoder` over `arch` (classifier configuration updated by `config`, dropouts
    scaled by `drop_mult`, 0.5 as fastai) + masked concat pooling head; splitter for gradual unfreezing
    (`freeze_to(-2)`, ...). Load a fine-tuned language model's encoder with `load_encoder`.

    With `pretrained`, the encoder starts from a pretrained language model's local files as in
    `language_model_learner` (`pretrained_fnames`, else `pretrained_dir(arch)`; an error when there are none);
    pass `pretrained=False` when you will `load_encoder` your own."""
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
    alpha, beta = meta["alpha_beta"]
    kwargs = {"alpha": alpha, "beta": beta, **kwargs}
    learn = TextLearner(dls, model, splitter=meta["split_clas"], **kwargs)
    files = _pretrained_files(learn, arch, pretrained, pretrained_fnames, "text_classifier_learner")
    if files is not None:
        learn.load_pretrained(*files)
    return learn
