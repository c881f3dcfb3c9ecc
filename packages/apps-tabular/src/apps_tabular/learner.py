"""`TabularLearner` and `tabular_learner`: a `Learner` for tables, with row prediction and feature importance."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from apps_tabular.data import TabularDataLoader, _as_frame
from apps_tabular.model import TabularModel, get_emb_sz, tabular_config
from trainloop_callbacks import Learner

__all__ = ["TabularLearner", "tabular_learner"]


class TabularLearner(Learner):
    """A `Learner` whose `predict` takes a row of a table and whose results are tables.

    `predict(row)` returns `(decoded row with the prediction in the target column(s), prediction,
    probabilities)`; `show_results()` a DataFrame; `feature_importance()` permutation importances.
    """

    config_safe = True

    def _test_dl(self, rows: Any) -> TabularDataLoader:
        test_dl = getattr(self.dls, "test_dl", None)
        if not callable(test_dl):
            raise ValueError("TabularLearner.predict needs TabularDataLoaders (dls.test_dl)")
        return test_dl(_as_frame(rows))

    def predict(self, row: Any) -> tuple[pd.Series, Tensor, Tensor]:
        """One row (a Series, a dict, or a one-row DataFrame) through the fitted procs and the model.

        Returns the row decoded (procs undone) with the prediction in the target column(s), the
        prediction (class index, 0/1 per label, or the value(s)), and the probabilities (the values for
        regression). Categories unseen in training are `#na#`.
        """
        dl = self._test_dl(row)
        with self.no_bar():
            inp, preds, _, dec = self.get_preds(dl=dl, with_input=True, with_decoded=True, reorder=False)
        inp = inp if isinstance(inp, tuple) else (inp,)
        decoded = dl.decode_frame(inp, max_n=1)
        pred_cols = dl.decode_preds(dec[:1])
        for n in dl.tabular.y_names:
            decoded[n] = pred_cols[f"{n}_pred"].to_numpy()
        return decoded.iloc[0], dec[0], preds[0]

    def feature_importance(
        self,
        dl: Any = None,
        metric: Callable[[Tensor, Tensor], Tensor | float] | None = None,
        higher_is_better: bool = False,
        n_repeats: int = 1,
        seed: int = 0,
    ) -> pd.Series:
        """Permutation importance of each input column (beyond fastai): how much `metric` (default: the
        loss) worsens on `dl` (default: validation) when that column's values are shuffled across rows.

        `higher_is_better` for metrics such as accuracy. Columns are permuted in the tensors, with a seeded
        generator, `n_repeats` times each (averaged). Returns a Series sorted from most to least important.
        """
        dl = self.dls.valid if dl is None else dl
        ds = dl.dataset
        tensors = list(getattr(ds, "tensors", ()))
        n_inp = int(getattr(ds, "n_inp", 2))
        if len(tensors) <= n_inp:
            raise ValueError("feature_importance needs labelled rows (the loader's dataset has no targets)")
        inputs, target = tensors[:n_inp], tensors[n_inp]
        metric = metric or self.loss_func
        to = dl.tabular
        names = [(0, j, c) for j, c in enumerate(to.cat_names)]
        if n_inp > 1:
            names += [(1, j, c) for j, c in enumerate(to.cont_names)]
        base = self._score(inputs, target, metric, dl.bs)
        g = torch.Generator().manual_seed(seed)
        out = {}
        for k, j, c in names:
            drops = []
            for _ in range(n_repeats):
                perm = torch.randperm(target.shape[0], generator=g).to(inputs[k].device)
                shuffled = inputs[k].clone()
                shuffled[:, j] = inputs[k][perm, j]
                s = self._score([*inputs[:k], shuffled, *inputs[k + 1 :]], target, metric, dl.bs)
                drops.append(base - s if higher_is_better else s - base)
            out[c] = float(np.mean(drops))
        return pd.Series(out, name="importance").sort_values(ascending=False)

    def _score(self, inputs: Sequence[Tensor], target: Tensor, metric: Callable[..., Any], bs: int) -> float:
        """`metric` over all rows, from predictions made in batches of `bs` (the model in eval mode)."""
        model = self.model
        was_training = model.training
        model.eval()
        dev = next(model.parameters()).device
        preds = []
        try:
            with torch.no_grad():
                for i in range(0, target.shape[0], max(bs, 1024)):
                    preds.append(model(*(t[i : i + max(bs, 1024)].to(dev) for t in inputs)).float())
        finally:
            model.train(was_training)
        v = metric(torch.cat(preds), target.to(dev))
        return float(v.item() if isinstance(v, Tensor) else v)


def tabular_learner(
    dls: Any,
    layers: Sequence[int] | None = None,
    emb_szs: Mapping[str, int] | None = None,
    config: dict[str, Any] | None = None,
    n_out: int | None = None,
    y_range: tuple[float, float] | None = None,
    loss_func: Any = None,
    **kwargs: Any,
) -> TabularLearner:
    """A `TabularLearner` with a `TabularModel` sized from `dls` (fastai): `layers` default `[200, 100]`,
    embedding widths by `emb_sz_rule` unless `emb_szs` names a column, `n_out` from `dls.c`, `y_range` for
    a regression head, `config` from `tabular_config()`. The loss follows `dls.loss_kind` (cross-entropy,
    BCE on logits, MSE) unless `loss_func` is given; `kwargs` go to `Learner` (metrics, opt_func, ...)."""
    config = tabular_config() if config is None else dict(config)
    layers = [200, 100] if layers is None else list(layers)
    if y_range is None:
        y_range = config.pop("y_range", None)
    else:
        config.pop("y_range", None)
    n_out = int(dls.c) if n_out is None else n_out
    model = TabularModel(get_emb_sz(dls, emb_szs), len(dls.cont_names), n_out, layers, y_range=y_range, **config)
    return TabularLearner(dls, model, loss_func=loss_func, **kwargs)
