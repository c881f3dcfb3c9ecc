"""`Embedding` with fastai's initialisation, and `emb_sz_rule`, fastai's rule of thumb for its width."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["Embedding", "emb_sz_rule", "trunc_normal_"]


def trunc_normal_(x: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill `x` in place with fastai's truncated normal: a standard normal folded into (-2, 2) by `fmod`, then
    scaled by `std` and shifted by `mean` (so every value lies within `mean ± 2 * std`)."""
    return x.normal_().fmod_(2).mul_(std).add_(mean)


class Embedding(nn.Embedding):
    """`nn.Embedding(ni, nf)` with weights drawn by `trunc_normal_(std=std)` (fastai's `Embedding`)."""

    config_safe = True

    def __init__(self, ni: int, nf: int, std: float = 0.01) -> None:
        super().__init__(ni, nf)
        trunc_normal_(self.weight.data, std=std)
        self.config = {"ni": ni, "nf": nf, "std": float(std)}


def emb_sz_rule(n_cat: int) -> int:
    """fastai's embedding width for a categorical variable with `n_cat` levels: `min(600, round(1.6 * n_cat**0.56))`."""
    if isinstance(n_cat, bool) or not isinstance(n_cat, int) or n_cat < 1:
        raise ValueError(f"emb_sz_rule: n_cat must be a positive int (the number of categories), got {n_cat!r}")
    return min(600, round(1.6 * n_cat**0.56))
