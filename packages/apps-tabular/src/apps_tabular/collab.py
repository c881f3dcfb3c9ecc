"""Collaborative filtering: `CollabDataLoaders`, `EmbeddingDotBias`, `EmbeddingNN`, `collab_learner` (fastai).

Users and items are categorical columns (`Categorify`), so a user or item never seen in training maps to
index 0 (`#na#`) at prediction: its embedding row is never trained, and the prediction falls back to
the other side's bias (the policy instead of a crash).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from apps_tabular.core import DEFAULT_SEED, TabularPandas
from apps_tabular.data import TabularDataLoaders
from apps_tabular.learner import TabularLearner
from apps_tabular.model import TabularModel, get_emb_sz, tabular_config
from apps_tabular.procs import Categorify
from datablock import RandomSplitter, RegressionBlock
from trainloop_callbacks import MSELossFlat
from trainloop_callbacks.layers import Embedding, sigmoid_range

__all__ = ["TabularCollab", "CollabDataLoaders", "EmbeddingDotBias", "EmbeddingNN", "collab_learner"]


class TabularCollab(TabularPandas):
    """A `TabularPandas` whose batches are `(users_items, ratings)`: no continuous tensor (fastai)."""

    with_cont = False


class CollabDataLoaders(TabularDataLoaders):
    """Loaders of `(user, item)` index pairs and ratings, for `collab_learner`."""

    @classmethod
    def from_df(  # type: ignore[override]  # fastai's collab signature (ratings, valid_pct, names)
        cls,
        ratings: pd.DataFrame,
        valid_pct: float = 0.2,
        user_name: str | None = None,
        item_name: str | None = None,
        rating_name: str | None = None,
        seed: int | None = DEFAULT_SEED,
        path: str | Path = ".",
        bs: int = 64,
        val_bs: int | None = None,
        device: torch.device | str | None = None,
        **kwargs: Any,
    ) -> CollabDataLoaders:
        """Loaders from a ratings table; the names default to its first three columns (fastai). A random
        `valid_pct` of the rows validate (seeded; fastai's default seed is None)."""
        if ratings.shape[1] < 3 and None in (user_name, item_name, rating_name):
            raise ValueError(f"CollabDataLoaders: need user, item and rating columns; got {list(ratings.columns)}")
        user_name = ratings.columns[0] if user_name is None else user_name
        item_name = ratings.columns[1] if item_name is None else item_name
        rating_name = ratings.columns[2] if rating_name is None else rating_name
        splits = RandomSplitter(valid_pct=valid_pct, seed=seed)(range(len(ratings)))
        to = TabularCollab(
            ratings,
            [Categorify],
            [user_name, item_name],
            y_names=[rating_name],
            y_block=RegressionBlock(),
            splits=splits,
        )
        dls = cls.from_tabular(to, bs=bs, val_bs=val_bs, device=device, **kwargs)
        dls.path = Path(path)
        return dls

    @classmethod
    def from_csv(cls, csv: str | Path, **kwargs: Any) -> CollabDataLoaders:  # type: ignore[override]  # as from_df
        """Loaders from a ratings CSV file (read with `pandas.read_csv`); `kwargs` as `from_df`."""
        return cls.from_df(pd.read_csv(csv), **kwargs)

    @property
    def classes(self) -> dict[str, list[Any]]:
        """The user and item vocabs (`#na#` first)."""
        return self.tabular.classes


class EmbeddingDotBias(nn.Module):
    """Dot product of a user's and an item's factors, plus a bias for each (fastai), squashed into `y_range`."""

    config_safe = True

    def __init__(self, n_factors: int, n_users: int, n_items: int, y_range: tuple[float, float] | None = None) -> None:
        super().__init__()
        self.y_range = None if y_range is None else (float(y_range[0]), float(y_range[1]))
        self.u_weight, self.i_weight = Embedding(n_users, n_factors), Embedding(n_items, n_factors)
        self.u_bias, self.i_bias = Embedding(n_users, 1), Embedding(n_items, 1)
        self.n_factors, self.n_users, self.n_items = n_factors, n_users, n_items
        self.classes: dict[str, list[Any]] | None = None
        self.user: str | None = None
        self.item: str | None = None

    @classmethod
    def from_classes(
        cls,
        n_factors: int,
        classes: Mapping[str, Sequence[Any]],
        user: str | None = None,
        item: str | None = None,
        y_range: tuple[float, float] | None = None,
    ) -> EmbeddingDotBias:
        """A model sized from the vocabs `classes` (user first, item second unless named), which it keeps
        so that `weight(items)` and `bias(items)` take labels."""
        names = list(classes)
        user = names[0] if user is None else user
        item = names[1] if item is None else item
        model = cls(n_factors, len(classes[user]), len(classes[item]), y_range=y_range)
        model.classes, model.user, model.item = {k: list(v) for k, v in classes.items()}, user, item
        return model

    def forward(self, x: Tensor) -> Tensor:
        users, items = x[:, 0], x[:, 1]
        dot = (self.u_weight(users) * self.i_weight(items)).sum(1)
        res = dot + self.u_bias(users).squeeze(-1) + self.i_bias(items).squeeze(-1)
        return res if self.y_range is None else sigmoid_range(res, *self.y_range)

    def _idx(self, labels: Sequence[Any], is_item: bool) -> Tensor:
        key = self.item if is_item else self.user
        if self.classes is None or key is None:
            raise ValueError("EmbeddingDotBias: build it with from_classes (or collab_learner) to look up labels")
        vocab = self.classes[key]
        o2i = {v: i for i, v in enumerate(vocab)}
        missing = [o for o in labels if o not in o2i]
        if missing:
            who = "item" if is_item else "user"
            raise KeyError(
                f"EmbeddingDotBias: {who}(s) {missing[:5]} not in the training data (a label seen only in "
                "validation is not in the vocab)"
            )
        return torch.tensor([o2i[o] for o in labels], dtype=torch.long)

    def bias(self, labels: Sequence[Any], is_item: bool = True) -> Tensor:
        """The learned bias of each item (or user, `is_item=False`) named in `labels`."""
        layer = self.i_bias if is_item else self.u_bias
        with torch.no_grad():
            return layer.weight.detach().cpu()[self._idx(labels, is_item), 0]

    def weight(self, labels: Sequence[Any], is_item: bool = True) -> Tensor:
        """The learned factors of each item (or user) named in `labels`, shape `(len(labels), n_factors)`."""
        layer = self.i_weight if is_item else self.u_weight
        with torch.no_grad():
            return layer.weight.detach().cpu()[self._idx(labels, is_item)]

    def to_config(self) -> dict[str, Any]:
        """Sizes, range and vocabs as plain data (for `export`)."""
        return {
            "n_factors": self.n_factors,
            "n_users": self.n_users,
            "n_items": self.n_items,
            "y_range": None if self.y_range is None else list(self.y_range),
            "classes": self.classes,
            "user": self.user,
            "item": self.item,
        }

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> EmbeddingDotBias:
        """A freshly initialised model with the sizes and vocabs `to_config()` described."""
        y_range = None if cfg["y_range"] is None else tuple(cfg["y_range"])
        model = cls(int(cfg["n_factors"]), int(cfg["n_users"]), int(cfg["n_items"]), y_range=y_range)
        if cfg.get("classes") is not None:
            model.classes = {k: list(v) for k, v in cfg["classes"].items()}
            model.user, model.item = cfg["user"], cfg["item"]
        return model


class EmbeddingNN(TabularModel):
    """A `TabularModel` over the user and item embeddings only (no continuous input, one output)."""

    def __init__(self, emb_szs: Sequence[tuple[int, int]], layers: Sequence[int], **kwargs: Any) -> None:
        kwargs.pop("n_cont", None)
        kwargs.pop("out_sz", None)
        super().__init__(emb_szs, n_cont=0, out_sz=1, layers=layers, **kwargs)

    def to_config(self) -> dict[str, Any]:
        cfg = super().to_config()
        del cfg["n_cont"], cfg["out_sz"]
        return cfg


def collab_learner(
    dls: Any,
    n_factors: int = 50,
    use_nn: bool = False,
    emb_szs: Mapping[str, int] | None = None,
    layers: Sequence[int] | None = None,
    config: dict[str, Any] | None = None,
    y_range: tuple[float, float] | None = None,
    loss_func: Any = None,
    **kwargs: Any,
) -> TabularLearner:
    """A `TabularLearner` for collaborative filtering (fastai): `EmbeddingDotBias` with `n_factors`, or with
    `use_nn` an `EmbeddingNN` of `layers` (default `[n_factors]`); MSE loss unless `loss_func` is given."""
    config = tabular_config() if config is None else dict(config)
    if y_range is not None:
        config["y_range"] = y_range
    layers = [n_factors] if layers is None else list(layers)
    if use_nn:
        model: nn.Module = EmbeddingNN(get_emb_sz(dls, emb_szs), layers=layers, **config)
    else:
        model = EmbeddingDotBias.from_classes(n_factors, dls.classes, y_range=y_range)
    return TabularLearner(dls, model, loss_func=MSELossFlat() if loss_func is None else loss_func, **kwargs)
