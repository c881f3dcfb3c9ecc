"""AWD-LSTM (Merity et al.): an LSTM language model regularised by four kinds of dropout (fastai's `AWD_LSTM`).

`WeightDropout` drops hidden-to-hidden weights (DropConnect) through `torch.func.functional_call`, so the LSTM
keeps its own parameter and no torch module is patched; `RNNDropout` drops the same units at every time step;
`EmbeddingDropout` drops whole words of the embedding. The hidden state is kept between batches (the stream of a
language model continues) until `reset()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

__all__ = [
    "dropout_mask",
    "RNNDropout",
    "WeightDropout",
    "EmbeddingDropout",
    "AWD_LSTM",
    "awd_lstm_lm_config",
    "awd_lstm_clas_config",
    "awd_lstm_small_config",
]


def dropout_mask(x: Tensor, sz: Sequence[int], p: float) -> Tensor:
    """A mask of shape `sz` like `x`: 0 with probability `p`, else `1/(1-p)` (so the expectation is kept)."""
    return x.new_empty(*sz).bernoulli_(1 - p).div_(1 - p)


class RNNDropout(nn.Module):
    """Dropout of the same units at every time step of a (batch, seq, features) tensor."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        return x * dropout_mask(x.detach(), (x.size(0), 1, *x.shape[2:]), self.p)


class WeightDropout(nn.Module):
    """Run `module` with dropout applied to its weights `layer_names` (DropConnect) at each training call."""

    def __init__(self, module: nn.Module, weight_p: float, layer_names: str | Sequence[str] = "weight_hh_l0") -> None:
        super().__init__()
        self.module, self.weight_p = module, weight_p
        self.layer_names = [layer_names] if isinstance(layer_names, str) else list(layer_names)
        for name in self.layer_names:
            if not isinstance(getattr(module, name, None), nn.Parameter):
                raise ValueError(f"WeightDropout: {type(module).__name__} has no parameter {name!r}")

    def forward(self, *args: Any) -> Any:
        if not self.training or self.weight_p == 0.0:
            return self.module(*args)
        dropped = {n: F.dropout(getattr(self.module, n), p=self.weight_p, training=True) for n in self.layer_names}
        return functional_call(self.module, dropped, args)

    def reset(self) -> None:
        """Nothing to restore (the raw weights are never replaced); resets `module` if it can."""
        reset = getattr(self.module, "reset", None)
        if callable(reset):
            reset()


class EmbeddingDropout(nn.Module):
    """Drop whole rows (words) of `emb`'s weight with probability `embed_p`, applied at lookup."""

    def __init__(self, emb: nn.Embedding, embed_p: float) -> None:
        super().__init__()
        self.emb, self.embed_p = emb, embed_p

    def forward(self, words: Tensor, scale: float | None = None) -> Tensor:
        w = self.emb.weight
        if self.training and self.embed_p != 0:
            w = w * dropout_mask(w.detach(), (w.size(0), 1), self.embed_p)
        if scale:
            w = w * scale
        pad = -1 if self.emb.padding_idx is None else self.emb.padding_idx
        return F.embedding(words, w, pad, self.emb.max_norm, self.emb.norm_type, self.emb.scale_grad_by_freq)


class AWD_LSTM(nn.Module):
    """An embedding and `n_layers` LSTMs with AWD dropouts; returns the last layer's output (bs, seq, emb_sz).

    The last LSTM outputs `emb_sz` features, so a decoder can share (tie) the embedding's weights.
    """

    initrange = 0.1

    def __init__(
        self,
        vocab_sz: int,
        emb_sz: int,
        n_hid: int,
        n_layers: int,
        pad_token: int = 1,
        hidden_p: float = 0.2,
        input_p: float = 0.6,
        embed_p: float = 0.1,
        weight_p: float = 0.5,
        bidir: bool = False,
    ) -> None:
        super().__init__()
        self.config = dict(
            vocab_sz=vocab_sz,
            emb_sz=emb_sz,
            n_hid=n_hid,
            n_layers=n_layers,
            pad_token=pad_token,
            hidden_p=hidden_p,
            input_p=input_p,
            embed_p=embed_p,
            weight_p=weight_p,
            bidir=bidir,
        )
        self.emb_sz, self.n_hid, self.n_layers, self.pad_token = emb_sz, n_hid, n_layers, pad_token
        self.bs, self.n_dir = 1, 2 if bidir else 1
        self.encoder = nn.Embedding(vocab_sz, emb_sz, padding_idx=pad_token)
        self.encoder_dp = EmbeddingDropout(self.encoder, embed_p)
        self.rnns = nn.ModuleList(
            [
                WeightDropout(
                    nn.LSTM(emb_sz if i == 0 else n_hid, self._n_out(i), 1, batch_first=True, bidirectional=bidir),
                    weight_p,
                )
                for i in range(n_layers)
            ]
        )
        with torch.no_grad():
            self.encoder.weight.uniform_(-self.initrange, self.initrange)
        self.input_dp = RNNDropout(input_p)
        self.hidden_dps = nn.ModuleList([RNNDropout(hidden_p) for _ in range(n_layers)])
        self.hidden: list[tuple[Tensor, Tensor]] = []
        self.reset()

    def _n_out(self, i: int) -> int:
        return (self.n_hid if i != self.n_layers - 1 else self.emb_sz) // self.n_dir

    def forward(self, inp: Tensor, from_embeds: bool = False) -> Tensor:
        bs = inp.shape[0]
        if bs != self.bs or self.hidden[0][0].device != inp.device:
            self._change_hidden(bs, inp.device)
        output = self.input_dp(inp if from_embeds else self.encoder_dp(inp))
        new_hidden = []
        for i, (rnn, hid_dp) in enumerate(zip(self.rnns, self.hidden_dps, strict=True)):
            output, new_h = rnn(output, self.hidden[i])
            new_hidden.append(new_h)
            if i != self.n_layers - 1:
                output = hid_dp(output)
        self.hidden = [(h.detach(), c.detach()) for h, c in new_hidden]  # truncated backpropagation through time
        return output

    def _zeros(self, i: int, bs: int, device: torch.device | None = None) -> tuple[Tensor, Tensor]:
        p = self.encoder.weight
        z = p.new_zeros(self.n_dir, bs, self._n_out(i), device=device)
        return z, z.clone()

    def _change_hidden(self, bs: int, device: torch.device) -> None:
        new = []
        for i, (h, c) in enumerate(self.hidden):
            h, c = h.to(device), c.to(device)
            if self.bs < bs:
                zh, zc = self._zeros(i, bs - self.bs, device)
                h, c = torch.cat([h, zh], dim=1), torch.cat([c, zc], dim=1)
            elif self.bs > bs:
                h, c = h[:, :bs].contiguous(), c[:, :bs].contiguous()
            new.append((h, c))
        self.hidden, self.bs = new, bs

    def select_hidden(self, idxs: Tensor) -> None:
        """Keep the hidden state of the batch rows `idxs` only, in that order (beam search follows its beams)."""
        self.hidden = [(h[:, idxs].contiguous(), c[:, idxs].contiguous()) for h, c in self.hidden]
        self.bs = len(idxs)

    def reset(self) -> None:
        """Forget the hidden state (a new stream or a new document starts)."""
        for r in self.rnns:
            if isinstance(r, WeightDropout):  # every layer is one (see __init__)
                r.reset()
        self.hidden = [self._zeros(i, self.bs) for i in range(self.n_layers)]


awd_lstm_lm_config: dict[str, Any] = dict(
    emb_sz=400,
    n_hid=1152,
    n_layers=3,
    pad_token=1,
    bidir=False,
    output_p=0.1,
    hidden_p=0.15,
    input_p=0.25,
    embed_p=0.02,
    weight_p=0.2,
    tie_weights=True,
    out_bias=True,
)
"""fastai's language-model configuration of AWD_LSTM (the size of the WikiText-103 pretrained model)."""

awd_lstm_clas_config: dict[str, Any] = dict(
    emb_sz=400, n_hid=1152, n_layers=3, pad_token=1, bidir=False, output_p=0.4, hidden_p=0.3, input_p=0.4,
    embed_p=0.05, weight_p=0.5,
)  # fmt: skip
"""fastai's classifier configuration of AWD_LSTM."""

awd_lstm_small_config: dict[str, Any] = dict(emb_sz=64, n_hid=128, n_layers=2)
"""A small AWD_LSTM (about 20x fewer weights per word than the default): same dropouts, for tests, examples and
CPU quickstarts. Pass it as `config=` to either learner; missing keys come from the default configuration."""
