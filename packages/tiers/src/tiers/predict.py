"""`tiers predict MODEL INPUT...`: load an exported learner safely and print its predictions.

The application is read from the learner class the file records (and, for tabular learners, from the data
or model it describes), before anything is built. Loading goes through `trainloop_callbacks.load_learner`,
which reads the file with `torch.load(weights_only=True)` and resolves every name it mentions inside the
tiers allow-list; a refused file gets a one-line reason, never a traceback.
"""

from __future__ import annotations

import importlib
import pickle
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from trainloop_callbacks import ExportError, load_learner

__all__ = ["PredictError", "application_of", "load_for_predict", "APPLICATIONS"]

APPLICATIONS: dict[str, str] = {
    "vision": "tiers.predictors.vision",
    "segment": "tiers.predictors.segment",
    "text": "tiers.predictors.text",
    "tabular": "tiers.predictors.tabular",
    "collab": "tiers.predictors.collab",
}
"""Application -> the module whose `predict(learn, inputs, out)` prints and writes its predictions."""


class PredictError(ValueError):
    """A model file or an input `tiers predict` refuses; the message is the one line the command prints."""


def _read_state(file: Path) -> dict[str, Any]:
    if not file.is_file():
        raise PredictError(f"{file}: no such file")
    if not zipfile.is_zipfile(file):
        raise PredictError(f"{file}: not a tiers export (not a torch zip archive)")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise PredictError(
            f"{file}: refused: it holds pickled Python objects, which could run code when loaded "
            "(tiers predict reads only safe exports: learn.export() without pickle=True)"
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError) as e:
        raise PredictError(f"{file}: not a readable tiers export ({_first_line(e)})") from None
    if not isinstance(state, dict) or state.get("format") != "tiers-export":
        raise PredictError(f"{file}: not a tiers export (no 'format': 'tiers-export' in it)")
    return state


def _name_of(desc: Any) -> str:
    return desc.get("type", "") if isinstance(desc, dict) and isinstance(desc.get("type"), str) else ""


def application_of(state: dict[str, Any]) -> str:
    """The application of an export, read from the learner class it records (without importing anything)."""
    learner = state.get("learner")
    if not isinstance(learner, str):
        raise PredictError("the file records no learner class, so its application is unknown")
    package = learner.split(":")[0].split(".")[0]
    model, data = _name_of(state.get("model")), _name_of(state.get("data"))
    if package == "apps_vision":
        return "segment" if "Unet" in model or "Segmentation" in learner else "vision"
    if package == "apps_text":
        return "text"
    if package == "apps_tabular":
        collab = "Collab" in data or model.rsplit(":", 1)[-1] in ("EmbeddingDotBias", "EmbeddingNN")
        return "collab" if collab else "tabular"
    raise PredictError(
        f"the learner class {learner!r} is not one of the tiers applications (apps_vision, apps_text, apps_tabular); "
        "load it with trainloop_callbacks.load_learner"
    )


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _export_reason(e: Exception) -> str:
    """The resolver's refusal (`refusing 'os:system': module 'os' is not in the allow-list. A config may ...`)
    without its advice paragraph, which names load_learner's arguments rather than the command's."""
    text = _first_line(e)
    if text.startswith("refusing "):
        what = text.removeprefix("refusing ").split(". A config may name")[0]
        return f"refused {what} (allowed: marked names of the tiers packages and of --allow MODULE)"
    return f"refused: {text}"


def _weights_reason(e: RuntimeError) -> str:
    """torch's multi-line load_state_dict error as one line: the first problem and how many there are."""
    problems = [ln.strip() for ln in str(e).splitlines()[1:] if ln.strip()]
    first = problems[0] if problems else _first_line(e)
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"refused: its weights do not fit the model it describes: {first}{more}"


def load_for_predict(file: str | Path, cpu: bool = True, allow: Sequence[str] = ()) -> tuple[str, Any]:
    """(application, learner) of a safe export, or `PredictError` with a one-line reason."""
    file = Path(file)
    app = application_of(_read_state(file))
    try:
        learn = load_learner(file, cpu=cpu, allow=allow)
    except ExportError as e:  # a name outside the allow-list, a malformed description
        raise PredictError(f"{file}: {_export_reason(e)}") from None
    except RuntimeError as e:
        if "state_dict" in str(e):
            raise PredictError(f"{file}: {_weights_reason(e)}") from None
        raise
    except TypeError as e:  # a described class given arguments it does not take
        raise PredictError(f"{file}: refused: its model description does not build: {_first_line(e)}") from None
    return app, learn


def predictor(app: str) -> Any:
    """The module that predicts for `app` (imported on demand)."""
    return importlib.import_module(APPLICATIONS[app])
