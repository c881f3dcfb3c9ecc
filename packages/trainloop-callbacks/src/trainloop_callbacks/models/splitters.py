"""Splitters for pretrained models: a model's parameters in groups (body stages first, head last), so that
`freeze`/`freeze_to` and `slice` learning rates (discriminative learning rates) act per group."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from torch import nn

from trainloop_callbacks.models.model_utils import params_of

__all__ = ["split_body_head", "check_split", "BodyHeadSplitter"]

ModuleGroup = nn.Module | Sequence[nn.Module]


def _as_modules(group: Any, where: str) -> list[nn.Module]:
    if isinstance(group, nn.Module):
        return [group]
    if isinstance(group, Sequence) and all(isinstance(m, nn.Module) for m in group):
        return list(group)
    raise TypeError(f"{where}: expected an nn.Module or a sequence of modules, got {type(group).__name__}")


def check_split(model: nn.Module, groups: Sequence[Sequence[nn.Parameter]]) -> None:
    """Check that `groups` holds every parameter of `model` exactly once and that no group is empty; the error
    names the parameters that are missing, repeated or foreign."""
    names = {id(p): n for n, p in model.named_parameters()}
    seen: dict[int, int] = {}
    repeated, foreign = [], []
    for i, g in enumerate(groups):
        if not len(g):
            raise ValueError(f"parameter group {i} is empty: every group needs parameters to train")
        for p in g:
            if id(p) in seen:
                repeated.append(f"{names.get(id(p), '?')} (groups {seen[id(p)]} and {i})")
            elif id(p) not in names:
                foreign.append(f"a {tuple(p.shape)} parameter in group {i}")
            seen[id(p)] = i
    missing = [n for pid, n in names.items() if pid not in seen]
    problems = [
        f"{what}: {', '.join(items[:5])}{' ...' if len(items) > 5 else ''}"
        for what, items in (("in no group", missing), ("in two groups", repeated), ("not in the model", foreign))
        if items
    ]
    if problems:
        raise ValueError(
            f"the split of {type(model).__name__} is not a partition of its parameters; " + "; ".join(problems)
        )


def split_body_head(
    body_groups: Sequence[ModuleGroup], head: ModuleGroup, model: nn.Module | None = None
) -> list[list[nn.Parameter]]:
    """Parameter groups for transfer learning: one per body group (lowest layers first), then the head.

    Each group is a module or a list of modules. With `model`, the groups are checked to cover its parameters
    exactly once (`check_split`); without it, a parameter in two groups is still refused."""
    groups = [params_of(*_as_modules(g, f"body group {i}")) for i, g in enumerate(body_groups)]
    groups.append(params_of(*_as_modules(head, "head")))
    if model is not None:
        check_split(model, groups)
    else:
        seen: set[int] = set()
        for i, g in enumerate(groups):
            if not g:
                raise ValueError(f"parameter group {i} is empty: every group needs parameters to train")
            if any(id(p) in seen for p in g):
                raise ValueError(f"parameter group {i} shares parameters with an earlier group")
            seen.update(id(p) for p in g)
    return groups


class BodyHeadSplitter:
    """A splitter for `Learner(splitter=...)` on a model `nn.Sequential(body, head)` (what `vision_learner`
    builds): the body (child `body`) is cut at the indices `cuts` into consecutive stages, the head is child
    `head`. fastai's resnet split is `BodyHeadSplitter(cuts=(6,))`: `body[:6]`, `body[6:]`, head. Its arguments
    are plain data, so a registry of backbones can store it."""

    def __init__(self, cuts: Sequence[int] = (), body: int = 0, head: int = 1) -> None:
        cuts = [int(c) for c in cuts]
        if any(b <= a for a, b in pairwise(cuts)) or any(c <= 0 for c in cuts):
            raise ValueError(f"BodyHeadSplitter: cuts must be positive and increasing, got {cuts}")
        self.cuts, self.body, self.head = cuts, body, head
        self.config = {"cuts": cuts, "body": body, "head": head}

    def __call__(self, model: nn.Module) -> list[list[nn.Parameter]]:
        indexable: Any = model  # nn.Sequential, nn.ModuleList or any model with __getitem__; checked below
        try:
            body, head = indexable[self.body], indexable[self.head]
        except (TypeError, IndexError):
            raise ValueError(
                f"BodyHeadSplitter: the model must be indexable with children {self.body} (body) and {self.head} "
                f"(head), got {type(model).__name__}"
            ) from None
        n = len(body)
        if self.cuts and self.cuts[-1] >= n:
            raise ValueError(f"BodyHeadSplitter: cut {self.cuts[-1]} is past the body's {n} children")
        bounds = [0, *self.cuts, n]
        stages = [list(body[a:b]) for a, b in pairwise(bounds)]
        return split_body_head(stages, head, model)

    def __repr__(self) -> str:
        return f"BodyHeadSplitter(cuts={self.cuts}, body={self.body}, head={self.head})"
