"""Checkpoints: `save`/`load` of model, optimizer, callback and RNG state; a resumed fit equals an uninterrupted one."""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from trainloop_callbacks.inference.export import export_learner

if TYPE_CHECKING:
    from trainloop_callbacks.learner import Learner

__all__ = ["PersistenceMixin", "rng_state", "set_rng_state"]


def rng_state() -> dict[str, Any]:
    """The random states that training consumes (torch CPU and CUDA, Python's `random`)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": _py_state(random.getstate())}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` returned."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _bare(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a wrapper such as `DistributedDataParallel` (which keeps it as `.module`)."""
    inner = getattr(model, "module", None)
    return inner if isinstance(inner, torch.nn.Module) else model


def _py_state(s: tuple[Any, ...]) -> list[Any]:
    version, internal, gauss = s
    return [version, list(internal), gauss]


class PersistenceMixin:
    """`save` and `load` of `Learner`."""

    def _ckpt_path(self: Learner, name: str | Path) -> Path:  # type: ignore[misc]  # a Learner mixin: self is a Learner
        p = Path(name)
        if p.suffix != ".pth":
            p = p.with_name(p.name + ".pth")
        return p if p.is_absolute() else self.path / self.model_dir / p

    def save(self: Learner, name: str | Path, with_opt: bool = True) -> Path:  # type: ignore[misc]  # a Learner mixin: self is a Learner
        """Write model weights (and optimizer, callback, RNG state) to `path/model_dir/name.pth`.

        A wrapped model (`DistributedDataParallel`, anything with `.module`) is saved unwrapped, so the keys
        carry no `module.` prefix and the checkpoint loads into the plain model as well as into a wrapped one."""
        file = self._ckpt_path(name)
        file.parent.mkdir(parents=True, exist_ok=True)
        state: dict[str, Any] = {
            "model": _bare(self.model).state_dict(),
            "epoch": self.epoch,
            "rng": rng_state(),
            "cbs": {cb.name: cb.state_dict() for cb in self.cbs},
        }
        if with_opt and self.opt is not None:
            state["opt"] = self.opt.state_dict()
        torch.save(state, file)
        return file

    def load(  # type: ignore[misc]  # a Learner mixin: self is a Learner
        self: Learner,
        name: str | Path,
        with_opt: bool = True,
        strict: bool = True,
        with_rng: bool = True,
        with_cbs: bool = True,
    ) -> Any:
        """Read a checkpoint written by `save` (weights only: nothing is unpickled). Restores the RNG too so a
        `fit(..., start_epoch=k)` after loading the epoch-(k-1) checkpoint repeats the interrupted run exactly.
        `with_cbs=False` leaves the callbacks' state (the Recorder's history, trackers' bests) as it is."""
        file = self._ckpt_path(name)
        if not file.exists():
            raise FileNotFoundError(f"no checkpoint at {file}")
        state = torch.load(file, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or "model" not in state:
            raise ValueError(f"{file} is not a Learner checkpoint (expected a dict with 'model')")
        _bare(self.model).load_state_dict(state["model"], strict=strict)
        if with_opt and "opt" in state:
            if self.opt is None:
                self.create_opt()
            self.require_opt().load_state_dict(state["opt"])
        for cb in self.cbs if with_cbs else ():
            if cb.name in state.get("cbs", {}):
                cb.load_state_dict(state["cbs"][cb.name])
        if with_rng and "rng" in state:
            set_rng_state(state["rng"])
        return self

    def export(self: Learner, fname: str | Path = "export.pth", pickle: bool = False) -> Path:  # type: ignore[misc]  # a Learner mixin: self is a Learner
        """Write what inference needs to `path/fname`, safely as data (see `load_learner`); `pickle=True` opts
        into pickling custom objects."""
        return export_learner(self, fname, pickle=pickle)
