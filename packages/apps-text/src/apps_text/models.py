"""Language models and classifiers on a recurrent encoder (fastai's `text.models.core`), exportable as data.

A model built by `get_language_model`/`get_text_classifier` is a `SequentialRNN(encoder, head)` that remembers
its recipe (architecture name, vocabulary size, configuration), so `export` writes that recipe, not a pickle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from apps_text.awdlstm import AWD_LSTM, RNNDropout, awd_lstm_clas_config, awd_lstm_lm_config
from apps_text.transformer import Transformer, tfmer_clas_config, tfmer_lm_config
from trainloop_callbacks.layers import LinBnDrop, SigmoidRange
from trainloop_callbacks.models.model_utils import params_of

__all__ = [
    "LinearDecoder",
    "SequentialRNN",
    "get_language_model",
    "SentenceEncoder",
    "masked_concat_pool",
    "PoolingLinearClassifier",
    "get_text_classifier",
    "awd_lstm_lm_split",
    "awd_lstm_clas_split",
    "tfmer_lm_split",
    "tfmer_clas_split",
    "MODEL_META",
]


class LinearDecoder(nn.Module):
    """The language model's head: dropout, then a linear layer to the vocabulary (tied to the embedding when
    `tie_encoder` is given). Returns `(logits, raw_output, dropped_output)` for the AR/TAR regularizer."""

    initrange = 0.1

    def __init__(
        self, n_out: int, n_hid: int, output_p: float = 0.1, tie_encoder: nn.Embedding | None = None, bias: bool = True
    ) -> None:
        super().__init__()
        self.decoder = nn.Linear(n_hid, n_out, bias=bias)
        with torch.no_grad():
            self.decoder.weight.uniform_(-self.initrange, self.initrange)
            if bias:
                self.decoder.bias.zero_()
        self.output_dp = RNNDropout(output_p)
        if tie_encoder is not None:
            self.decoder.weight = tie_encoder.weight

    def forward(self, inp: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        dp_inp = self.output_dp(inp)
        return self.decoder(dp_inp), inp, dp_inp


class SequentialRNN(nn.Sequential):
    """`nn.Sequential` whose `reset()` resets every child that can; exported through its `recipe` (plain data)."""

    config_safe = True  # rebuilt by from_config through the factories below, from names and numbers only

    recipe: dict[str, Any] | None = None

    def reset(self) -> None:
        for c in self.children():
            reset = getattr(c, "reset", None)
            if callable(reset):
                reset()

    def to_config(self) -> dict[str, Any]:
        """The recipe this model was built from (what `export` writes)."""
        if self.recipe is None:
            raise ValueError("SequentialRNN: built by hand, it has no recipe; build it with get_language_model or "
                             "get_text_classifier to export it as data")  # fmt: skip
        return dict(self.recipe)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SequentialRNN:
        """Rebuild (untrained) from `to_config()`'s recipe; the weights are loaded after."""
        cfg = dict(config)
        kind, arch = cfg.pop("kind", None), MODEL_META.get(cfg.pop("arch", None))
        if arch is None:
            raise ValueError(f"SequentialRNN.from_config: unknown architecture in {config!r:.200}")
        if kind == "lm":
            return get_language_model(arch["cls"], **cfg)
        if kind == "clas":
            return get_text_classifier(arch["cls"], **cfg)
        raise ValueError(f"SequentialRNN.from_config: kind must be 'lm' or 'clas', got {kind!r}")


def _encoder_and_head(model: nn.Module, cls: type[nn.Module]) -> tuple[Any, nn.Module]:
    """The `cls` encoder and the head of a language model or a classifier (whose `SentenceEncoder` wraps it)."""
    body, head = list(model.children())[:2]
    enc = body.module if isinstance(body, SentenceEncoder) else body
    if not isinstance(enc, cls):
        raise TypeError(
            f"expected a {cls.__name__} model ({cls.__name__} or SentenceEncoder, then a head), got {type(enc)}"
        )
    return enc, head


def awd_lstm_lm_split(model: nn.Module) -> list[list[nn.Parameter]]:
    """Parameter groups of an AWD-LSTM language model: each LSTM layer, then embedding + decoder (fastai's)."""
    enc, head = _encoder_and_head(model, AWD_LSTM)
    groups = [params_of(rnn, dp) for rnn, dp in zip(enc.rnns, enc.hidden_dps, strict=True)]
    return [*groups, params_of(enc.encoder, enc.encoder_dp, head)]


def awd_lstm_clas_split(model: nn.Module) -> list[list[nn.Parameter]]:
    """Parameter groups of an AWD-LSTM classifier: embedding, each LSTM layer, the head (for gradual unfreezing)."""
    enc, head = _encoder_and_head(model, AWD_LSTM)
    groups = [params_of(enc.encoder, enc.encoder_dp)]
    groups += [params_of(rnn, dp) for rnn, dp in zip(enc.rnns, enc.hidden_dps, strict=True)]
    return [*groups, params_of(head)]


def tfmer_lm_split(model: nn.Module) -> list[list[nn.Parameter]]:
    """Parameter groups of a Transformer language model: each block, then embedding + final norm + decoder (the
    layout of `awd_lstm_lm_split`)."""
    enc, head = _encoder_and_head(model, Transformer)
    return [*[params_of(layer) for layer in enc.layers], params_of(enc.encoder, enc.ln_f, head)]


def tfmer_clas_split(model: nn.Module) -> list[list[nn.Parameter]]:
    """Parameter groups of a Transformer classifier: embedding, each block, final norm + head (for gradual
    unfreezing: `freeze_to(-2)` trains the last block and the head)."""
    enc, head = _encoder_and_head(model, Transformer)
    layers = [params_of(layer) for layer in enc.layers]
    return [params_of(enc.encoder), *layers[:-1], params_of(enc.layers[-1], enc.ln_f), params_of(head)]


MODEL_META: dict[str, dict[str, Any]] = {
    "AWD_LSTM": {
        "cls": AWD_LSTM,
        "hid_name": "emb_sz",
        "config_lm": awd_lstm_lm_config,
        "config_clas": awd_lstm_clas_config,
        "split_lm": awd_lstm_lm_split,
        "split_clas": awd_lstm_clas_split,
        "alpha_beta": (2.0, 1.0),
    },
    "Transformer": {
        "cls": Transformer,
        "hid_name": "d_model",
        "config_lm": tfmer_lm_config,
        "config_clas": tfmer_clas_config,
        "split_lm": tfmer_lm_split,
        "split_clas": tfmer_clas_split,
        "alpha_beta": (0.0, 0.0),  # AR/TAR regularize recurrent activations; none for attention
    },
}
"""What the factories and learners know of each architecture (by class name): configurations, splitters and the
learners' default AR/TAR strengths (`alpha_beta`)."""


def _meta(arch: Any) -> dict[str, Any]:
    name = arch if isinstance(arch, str) else getattr(arch, "__name__", None)
    if name not in MODEL_META:
        raise ValueError(f"unknown text architecture {arch!r}; known: {sorted(MODEL_META)} (MODEL_META)")
    return MODEL_META[name]


def _config(default: dict[str, Any], config: dict[str, Any] | None, drop_mult: float) -> dict[str, Any]:
    cfg = {**default, **(config or {})}
    unknown = set(cfg) - set(default) - {"init"}
    if unknown:
        raise ValueError(f"unknown configuration keys {sorted(unknown)}; known: {sorted(default)}")
    return {k: (v * drop_mult if k.endswith("_p") else v) for k, v in cfg.items()}


def get_language_model(
    arch: Any, vocab_sz: int, config: dict[str, Any] | None = None, drop_mult: float = 1.0
) -> SequentialRNN:
    """`arch(vocab_sz, **config)` + a `LinearDecoder` (weights tied to the embedding by default); every dropout
    (`*_p`) scaled by `drop_mult`. `config` updates the architecture's language-model configuration."""
    meta = _meta(arch)
    cfg = _config(meta["config_lm"], config, drop_mult)
    tie_weights, output_p, out_bias = cfg.pop("tie_weights"), cfg.pop("output_p"), cfg.pop("out_bias")
    encoder = meta["cls"](vocab_sz, **cfg)
    tie = encoder.encoder if tie_weights else None
    model = SequentialRNN(encoder, LinearDecoder(vocab_sz, cfg[meta["hid_name"]], output_p, tie, bias=out_bias))
    model.recipe = {
        "kind": "lm", "arch": meta["cls"].__name__, "vocab_sz": vocab_sz, "config": config or {},
        "drop_mult": drop_mult,
    }  # fmt: skip
    return model


def _pad_tensor(t: Tensor, bs: int) -> Tensor:
    if t.size(0) < bs:
        return torch.cat([t, t.new_zeros(bs - t.size(0), *t.shape[1:])])
    return t


class SentenceEncoder(nn.Module):
    """Run `module` over a long (padded-first) batch in chunks of `bptt` tokens, keeping the hidden state between
    chunks; returns the outputs of the last `max_len` tokens and the padding mask (fastai's `SentenceEncoder`).

    Expects a batch sorted by length (longest first) and padded as `pad_input_chunk` does: whole chunks of padding
    before the text, the rest after, so the rows whose text has begun by a chunk are its first ones (an error
    otherwise). Each chunk runs those rows, including texts that ended in an earlier chunk (on padding, masked out):
    fastai runs only the rows with a real token at the chunk's first column, which leaves out the end of a shorter
    text whenever a longer one ended before the last chunk.
    """

    def __init__(self, bptt: int, module: nn.Module, pad_idx: int = 1, max_len: int | None = None) -> None:
        super().__init__()
        self.bptt, self.module, self.pad_idx, self.max_len = bptt, module, pad_idx, max_len

    def reset(self) -> None:
        reset = getattr(self.module, "reset", None)
        if callable(reset):
            reset()

    def forward(self, inp: Tensor) -> tuple[Tensor, Tensor]:
        bs, sl = inp.size()
        self.reset()
        mask = inp == self.pad_idx
        started = (~mask).long().cummax(dim=1)[0].bool()  # a row's text has begun at or before this column
        outs, masks = [], []
        for i in range(0, sl, self.bptt):
            end = min(i + self.bptt, sl)
            # the rows whose text has begun by the end of this chunk, texts that already ended included: counting
            # the real tokens at the chunk's first column (fastai) skips the rest of a shorter text when a longer
            # one ended in an earlier chunk (pad_chunk's padding after the text)
            active = started[:, end - 1]
            real_bs = int(active.long().sum())
            if real_bs == 0:  # a chunk of padding only (an empty text): nothing to run
                continue
            if not bool(active[:real_bs].all()):
                raise ValueError(
                    f"SentenceEncoder: row {int((~active[:real_bs]).nonzero()[0])} starts after row "
                    f"{int(active[real_bs:].nonzero()[0]) + real_bs}: the batch must be sorted by length, longest "
                    "first, and padded first by whole chunks (pad_input_chunk, as SortedDL batches are)"
                )
            o = self.module(inp[:real_bs, i:end])
            if self.max_len is None or sl - i <= self.max_len:
                outs.append(o)
                masks.append(mask[:, i:end])
        if not outs:
            raise ValueError("SentenceEncoder: the batch holds only padding (empty texts)")
        return torch.cat([_pad_tensor(o, bs) for o in outs], dim=1), torch.cat(masks, dim=1)


def masked_concat_pool(output: Tensor, mask: Tensor, bptt: int) -> Tensor:
    """Concatenate the last real output, the max and the mean over the real (unmasked) positions of `output`.

    fastai finds the last real position by counting the padding in the last `bptt` columns, which points at padding
    when the batch's length is not a multiple of `bptt` and a text ends in the second-to-last chunk; here it is the
    last unmasked position itself (the same on fastai's layouts). `bptt` is kept for fastai's signature."""
    del bptt
    real = ~mask
    lens = real.long().sum(dim=1)
    avg_pool = output.masked_fill(mask[:, :, None], 0).sum(dim=1)
    avg_pool = avg_pool / lens.clamp(min=1).to(avg_pool.dtype)[:, None]
    max_pool = output.masked_fill(mask[:, :, None], -float("inf")).max(dim=1)[0]
    pos = torch.arange(mask.shape[1], device=mask.device)
    last_idx = torch.where(real, pos, torch.zeros_like(pos)).max(dim=1)[0]
    last = output[torch.arange(0, output.size(0), device=output.device), last_idx]
    return torch.cat([last, max_pool, avg_pool], 1)


class PoolingLinearClassifier(nn.Module):
    """Masked concat pooling of the encoder's outputs, then `LinBnDrop` layers of sizes `dims` with dropouts `ps`."""

    def __init__(self, dims: Sequence[int], ps: Sequence[float], bptt: int, y_range: Sequence[float] | None = None):
        super().__init__()
        if len(ps) != len(dims) - 1:
            raise ValueError(f"PoolingLinearClassifier: {len(dims) - 1} layers but {len(ps)} dropout values")
        acts: list[nn.Module | None] = [nn.ReLU(inplace=True) for _ in range(len(dims) - 2)] + [None]
        layers: list[nn.Module] = [
            LinBnDrop(i, o, p=p, act=a) for i, o, p, a in zip(dims[:-1], dims[1:], ps, acts, strict=True)
        ]
        if y_range is not None:
            layers.append(SigmoidRange(*y_range))
        self.layers = nn.Sequential(*layers)
        self.bptt = bptt

    def forward(self, inp: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        out, mask = inp
        x = self.layers(masked_concat_pool(out, mask, self.bptt))
        return x, out, out


def get_text_classifier(
    arch: Any,
    vocab_sz: int,
    n_class: int,
    seq_len: int = 72,
    config: dict[str, Any] | None = None,
    drop_mult: float = 1.0,
    lin_ftrs: Sequence[int] | None = None,
    ps: Sequence[float] | None = None,
    pad_idx: int = 1,
    max_len: int | None = 72 * 20,
    y_range: Sequence[float] | None = None,
) -> SequentialRNN:
    """A `SentenceEncoder` over `arch` + a `PoolingLinearClassifier` (hidden sizes `lin_ftrs`, default [50])."""
    meta = _meta(arch)
    cfg = _config(meta["config_clas"], config, drop_mult)
    lin = [50] if lin_ftrs is None else list(lin_ftrs)
    head_ps = [0.1] * len(lin) if ps is None else list(ps)
    dims = [cfg[meta["hid_name"]] * 3, *lin, n_class]
    head_ps = [cfg.pop("output_p"), *head_ps]
    cfg.pop("init", None)
    encoder = SentenceEncoder(seq_len, meta["cls"](vocab_sz, **cfg), pad_idx=pad_idx, max_len=max_len)
    model = SequentialRNN(encoder, PoolingLinearClassifier(dims, head_ps, bptt=seq_len, y_range=y_range))
    model.recipe = {
        "kind": "clas", "arch": meta["cls"].__name__, "vocab_sz": vocab_sz, "n_class": n_class, "seq_len": seq_len,
        "config": config or {}, "drop_mult": drop_mult, "lin_ftrs": None if lin_ftrs is None else list(lin_ftrs),
        "ps": None if ps is None else list(ps), "pad_idx": pad_idx,
        "max_len": max_len, "y_range": None if y_range is None else list(y_range),
    }  # fmt: skip
    return model
