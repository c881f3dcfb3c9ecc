"""`Learner`: the training loop (`loop.core.TrainLoop`) with the feature methods users call on it."""

from __future__ import annotations

from trainloop_callbacks.inference.persistence import PersistenceMixin
from trainloop_callbacks.inference.preds import InferenceMixin
from trainloop_callbacks.loop.core import TrainLoop
from trainloop_callbacks.schedule.fit_policies import FitPoliciesMixin
from trainloop_callbacks.schedule.lr_finder import LRFindMixin
from trainloop_callbacks.techniques import TechniquesMixin

__all__ = ["Learner"]


class Learner(TrainLoop, FitPoliciesMixin, LRFindMixin, InferenceMixin, PersistenceMixin, TechniquesMixin):
    """Trains `model` on `dls` with `loss_func` and `opt_func`; callbacks run at every `Event` of the loop.

    The loop, its arguments and the attributes callbacks may read and write are `TrainLoop`'s (one block, in
    `loop/core.py`); the methods come from: `FitPoliciesMixin` (`fit_one_cycle`, `fit_flat_cos`, `fit_sgdr`,
    `fine_tune`), `LRFindMixin` (`lr_find`), `InferenceMixin` (`validate`, `get_preds`, `predict`,
    `show_results`), `PersistenceMixin` (`save`, `load`, `export`) and `TechniquesMixin` (`to_fp16`, `to_bf16`,
    `to_fp32`, `summary`, `compile`, `distrib_ctx`, `tta`).
    """

    config_safe = True  # `load_learner` may rebuild it (and the apps' subclasses) from an export
