"""A small Transformer encoder for the same learners as `AWD_LSTM` (beyond fastai v2; after fastai v1's
`Transformer`): token embedding + sinusoidal positions, pre-norm blocks of multi-head self-attention and a GELU
feed-forward, a final `LayerNorm`.

Keys that are padding (`pad_token`) are never attended to, so a text's outputs do not depend on how much padding
its batch adds; with `causal=True` (the language model's configuration) position `i` attends to positions `<= i`
only, so an output never sees the tokens it must predict. The model keeps no state between calls (each window is
read on its own); `reset()` exists so that the learners' `ModelResetter` can call it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "Transformer",
    "TransformerBlock",
    "sinusoidal_positions",
    "tfmer_lm_config",
    "tfmer_clas_config",
    "tfmer_small_config",
]


def sinusoidal_positions(n: int, d_model: int, device: torch.device | None = None) -> Tensor:
    """The (n, d_model) sinusoidal position encodings of Vaswani et al.: sin on even features, cos on odd ones."""
    pos = torch.arange(n, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d_model, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    enc = torch.zeros(n, d_model, device=device)
    enc[:, 0::2] = torch.sin(pos * freq)
    enc[:, 1::2] = torch.cos(pos * freq[: d_model // 2])
    return enc


class TransformerBlock(nn.Module):
    """Pre-norm block: `x + attn(LayerNorm(x))`, then `x + ff(LayerNorm(x))`; `keep` (bs, 1, sl, sl) is True
    where a query may attend to a key."""

    def __init__(self, d_model: int, n_heads: int, d_inner: int, resid_p: float, attn_p: float, ff_p: float) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"TransformerBlock: d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        self.n_heads, self.attn_p = n_heads, attn_p
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_inner), nn.GELU(), nn.Dropout(ff_p), nn.Linear(d_inner, d_model))
        self.resid_dp = nn.Dropout(resid_p)

    def forward(self, x: Tensor, keep: Tensor) -> Tensor:
        bs, sl, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(bs, sl, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=self.attn_p if self.training else 0.0)
        x = x + self.resid_dp(self.out(att.transpose(1, 2).reshape(bs, sl, d)))
        return x + self.resid_dp(self.ff(self.ln2(x)))


class Transformer(nn.Module):
    """Embedding + positions, `n_layers` `TransformerBlock`s, a final `LayerNorm`; returns (bs, seq, d_model).

    The embedding is called `encoder` (as in `AWD_LSTM`), so the language model's decoder can tie its weights and
    pretrained weights use the same keys. Having no `select_hidden`, it is fed the whole context at each step of
    generation (`LMLearner.predict`, `beam_search`)."""

    def __init__(
        self,
        vocab_sz: int,
        d_model: int = 128,
        n_layers: int = 2,
        n_heads: int = 4,
        d_inner: int = 512,
        pad_token: int = 1,
        resid_p: float = 0.1,
        attn_p: float = 0.1,
        ff_p: float = 0.1,
        embed_p: float = 0.1,
        causal: bool = True,
    ) -> None:
        super().__init__()
        self.config = dict(
            vocab_sz=vocab_sz, d_model=d_model, n_layers=n_layers, n_heads=n_heads, d_inner=d_inner,
            pad_token=pad_token, resid_p=resid_p, attn_p=attn_p, ff_p=ff_p, embed_p=embed_p, causal=causal,
        )  # fmt: skip
        self.d_model, self.pad_token, self.causal = d_model, pad_token, causal
        self.encoder = nn.Embedding(vocab_sz, d_model, padding_idx=pad_token)
        self.embed_dp = nn.Dropout(embed_p)
        self.layers = nn.ModuleList(
            [TransformerBlock(d_model, n_heads, d_inner, resid_p, attn_p, ff_p) for _ in range(n_layers)]
        )
        self.ln_f = nn.LayerNorm(d_model)
        self._init_weights()

    def _init_weights(self) -> None:
        """Normal(0, 0.02) weights, zero biases, unit LayerNorms (fastai v1's `init_transformer`)."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        with torch.no_grad():
            self.encoder.weight[self.pad_token].zero_()

    def attention_mask(self, inp: Tensor) -> Tensor:
        """(bs, 1, sl, sl) booleans, True where a query may attend to a key: keys that are not padding (and, if
        `causal`, not after the query). A query always sees itself, so a padding position has a defined output."""
        bs, sl = inp.shape
        keep = (inp != self.pad_token)[:, None, None, :].expand(bs, 1, sl, sl)
        eye = torch.eye(sl, dtype=torch.bool, device=inp.device)
        if self.causal:
            keep = keep & torch.ones(sl, sl, dtype=torch.bool, device=inp.device).tril()
        return keep | eye

    def forward(self, inp: Tensor) -> Tensor:
        sl = inp.shape[1]
        x = self.encoder(inp) * math.sqrt(self.d_model) + sinusoidal_positions(sl, self.d_model, inp.device)
        x = self.embed_dp(x)
        keep = self.attention_mask(inp)
        for layer in self.layers:
            x = layer(x, keep)
        return self.ln_f(x)

    def reset(self) -> None:
        """Nothing to forget: the model keeps no state between calls."""


tfmer_lm_config: dict[str, Any] = dict(
    d_model=512, n_layers=6, n_heads=8, d_inner=2048, pad_token=1, resid_p=0.1, attn_p=0.1, ff_p=0.1, embed_p=0.1,
    causal=True, output_p=0.0, tie_weights=True, out_bias=False,
)  # fmt: skip
"""The language-model configuration of `Transformer` (causal attention, decoder tied to the embedding)."""

tfmer_clas_config: dict[str, Any] = dict(
    d_model=512, n_layers=6, n_heads=8, d_inner=2048, pad_token=1, resid_p=0.1, attn_p=0.1, ff_p=0.1, embed_p=0.1,
    causal=False, output_p=0.1,
)  # fmt: skip
"""The classifier configuration of `Transformer` (every token sees the whole chunk, as fastai v1's `mask=False`)."""

tfmer_small_config: dict[str, Any] = dict(d_model=64, n_layers=2, n_heads=4, d_inner=128)
"""A small `Transformer` for tests, examples and CPU runs; pass it as `config=` to either learner."""
