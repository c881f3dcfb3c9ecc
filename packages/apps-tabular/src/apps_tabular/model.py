"""`TabularModel`: embeddings for categorical columns, batch norm for continuous ones, then an MLP (fastai)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from trainloop_callbacks.layers import Embedding, LinBnDrop, SigmoidRange, emb_sz_rule

__all__ = ["TabularModel", "tabular_config", "get_emb_sz", "emb_sz_rule"]


def _n_categories(source: Any, name: str) -> int:
    classes = getattr(source, "classes", {})
    if name in classes:
        return len(classes[name])
    raise KeyError(
        f"get_emb_sz: categorical column {name!r} has no vocab (Categorify learns one); "
        "add Categorify to procs or give its size in sz_dict"
    )


def get_emb_sz(source: Any, sz_dict: Mapping[str, int] | None = None) -> list[tuple[int, int]]:
    """`(n_categories, width)` for each categorical column of `source` (a `TabularPandas` or the loaders):
    the width from `sz_dict` when it names the column, else `emb_sz_rule(n_categories)` (fastai)."""
    to = getattr(source, "tabular", source)
    sz_dict = dict(sz_dict or {})
    unknown = set(sz_dict) - set(to.cat_names)
    if unknown:
        raise KeyError(f"get_emb_sz: sz_dict names column(s) {sorted(unknown)} that are not categorical inputs")
    out = []
    for n in to.cat_names:
        n_cat = _n_categories(to, n)
        out.append((n_cat, int(sz_dict.get(n, emb_sz_rule(n_cat)))))
    return out


def tabular_config(
    ps: float | Sequence[float] | None = None,
    embed_p: float = 0.0,
    y_range: tuple[float, float] | None = None,
    use_bn: bool = True,
    bn_final: bool = False,
    bn_cont: bool = True,
    act_cls: Any = None,
    lin_first: bool = True,
) -> dict[str, Any]:
    """The keyword arguments of `TabularModel` other than sizes, as a dict (fastai's `tabular_config`)."""
    cfg = {
        "ps": ps,
        "embed_p": embed_p,
        "y_range": y_range,
        "use_bn": use_bn,
        "bn_final": bn_final,
        "bn_cont": bn_cont,
        "lin_first": lin_first,
    }
    if act_cls is not None:
        cfg["act_cls"] = act_cls
    return cfg


def _act_data(act_cls: Any) -> Any:
    """`act_cls` (a module, class or name) as data: a name, or `[name, {hyper-parameters}]`, as `LinBnDrop` keeps it
    (a module outside trainloop-callbacks' `ACTIVATIONS` stays as is, and export refuses it)."""
    return LinBnDrop(1, 1, bn=False, act=act_cls).config["act"]


class TabularModel(nn.Module):
    """fastai's tabular model: an embedding per categorical column (concatenated, with dropout `embed_p`),
    the continuous columns through batch norm (`bn_cont`), then `LinBnDrop` blocks of widths `layers`
    (dropout `ps`, activation `act_cls`, batch norm unless `use_bn=False`; the last block has batch norm
    only with `bn_final`) and an optional `SigmoidRange(*y_range)`.

    Describes itself as plain data (`to_config` / `from_config`), so `export` needs no pickle.
    """

    config_safe = True

    def __init__(
        self,
        emb_szs: Sequence[tuple[int, int]],
        n_cont: int,
        out_sz: int,
        layers: Sequence[int],
        ps: float | Sequence[float] | None = None,
        embed_p: float = 0.0,
        y_range: tuple[float, float] | None = None,
        use_bn: bool = True,
        bn_final: bool = False,
        bn_cont: bool = True,
        act_cls: Any = "ReLU",
        lin_first: bool = True,
    ) -> None:
        super().__init__()
        layers = [int(n) for n in layers]
        if ps is None:
            ps = [0.0] * len(layers)
        elif isinstance(ps, (int, float)):
            ps = [float(ps)] * len(layers)
        ps = [float(p) for p in ps]
        if len(ps) != len(layers):
            raise ValueError(f"TabularModel: {len(ps)} dropout values (ps) for {len(layers)} layers")
        if out_sz < 1:
            raise ValueError(f"TabularModel: out_sz must be >= 1, got {out_sz}")
        emb_szs = [(int(ni), int(nf)) for ni, nf in emb_szs]
        self.embeds = nn.ModuleList([Embedding(ni, nf) for ni, nf in emb_szs])
        self.emb_drop = nn.Dropout(embed_p)
        self.bn_cont = nn.BatchNorm1d(n_cont) if bn_cont and n_cont > 0 else None
        self.n_emb, self.n_cont = sum(nf for _, nf in emb_szs), n_cont
        if self.n_emb + n_cont == 0:
            raise ValueError("TabularModel: no input (no categorical and no continuous column)")
        act = _act_data(act_cls)
        sizes = [self.n_emb + n_cont, *layers, out_sz]
        blocks: list[nn.Module] = []
        for i, p in enumerate([*ps, 0.0]):
            last = i == len(sizes) - 2
            blocks.append(
                LinBnDrop(
                    sizes[i],
                    sizes[i + 1],
                    bn=use_bn and (not last or bn_final),
                    p=p,
                    act=None if last else act,
                    lin_first=lin_first,
                )
            )
        if y_range is not None:
            blocks.append(SigmoidRange(*y_range))
        self.layers = nn.Sequential(*blocks)
        self.config = {
            "emb_szs": [list(e) for e in emb_szs],
            "n_cont": int(n_cont),
            "out_sz": int(out_sz),
            "layers": layers,
            "ps": ps,
            "embed_p": float(embed_p),
            "y_range": None if y_range is None else [float(v) for v in y_range],
            "use_bn": bool(use_bn),
            "bn_final": bool(bn_final),
            "bn_cont": bool(bn_cont),
            "act_cls": act,
            "lin_first": bool(lin_first),
        }

    def forward(self, x_cat: Tensor, x_cont: Tensor | None = None) -> Tensor:
        parts = []
        if self.n_emb:
            x = torch.cat([e(x_cat[:, i]) for i, e in enumerate(self.embeds)], 1)
            parts.append(self.emb_drop(x))
        if self.n_cont:
            if x_cont is None:
                raise ValueError(f"TabularModel: the model has {self.n_cont} continuous inputs but got no x_cont")
            parts.append(self.bn_cont(x_cont) if self.bn_cont is not None else x_cont)
        return self.layers(parts[0] if len(parts) == 1 else torch.cat(parts, 1))

    def to_config(self) -> dict[str, Any]:
        """The constructor arguments as plain data (for `export`)."""
        if not isinstance(self.config["act_cls"], (str, list, type(None))):
            raise TypeError(f"TabularModel: act_cls {self.config['act_cls']!r} cannot be described as data")
        return dict(self.config)

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> TabularModel:
        """A model (freshly initialised) with the architecture `to_config()` described."""
        cfg = dict(cfg)
        cfg["emb_szs"] = [tuple(e) for e in cfg["emb_szs"]]
        if cfg.get("y_range") is not None:
            cfg["y_range"] = tuple(cfg["y_range"])
        return cls(**cfg)
