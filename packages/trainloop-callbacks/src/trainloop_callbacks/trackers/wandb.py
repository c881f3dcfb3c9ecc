"""`WandbCallback`: the run in Weights & Biases (online, or offline and synced later)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainloop_callbacks.trackers._base import ExperimentTracker, missing_extra, run_params

__all__ = ["WandbCallback", "WANDB_LOG"]

WANDB_LOG = (None, "gradients", "parameters", "all")
"""What `WandbCallback(log=...)` has `wandb.watch` record as histograms (None: nothing)."""


def wandb_module() -> Any:
    """The wandb package, or an error naming the extra to install."""
    try:
        import wandb
    except ImportError as e:
        raise missing_extra("WandbCallback", "wandb", "wandb") from e
    return wandb


class WandbCallback(ExperimentTracker):
    """Logs the run to Weights & Biases, as fastai's `WandbCallback`.

    The run starts at the first fit (`wandb.init(project=project, config=run_params(learn), **init_kwargs)`; the
    mode, folder and the rest come from `init_kwargs` or wandb's environment, e.g. `WANDB_MODE=offline`,
    `WANDB_DIR`); a run the user already started (`wandb.run`) is logged into and left open.

    Per optimizer step: `train_loss`, `lr_<i>`, `mom_<i>`; per epoch: `valid_loss`, metrics and `epoch`; `log` has
    `wandb.watch` record `"gradients"`, `"parameters"` or `"all"` every `log_freq` batches; `log_preds` logs a
    picture of `n_preds` predictions each epoch (the data's `show_results`); `log_model` stores the safe export as
    a `model` artifact at the end of each fit. Each fit finishes its part of the run; a later fit or a resume
    (`run_id`, or the checkpointed state) continues the same run id and step numbering (offline, wandb writes it
    as another folder of the same run id, `run_dirs`). Needs the `wandb` extra:
    `pip install "trainloop-callbacks[wandb]"`.
    """

    def __init__(
        self,
        project: str | None = None,
        log: str | None = None,
        log_preds: bool = True,
        log_model: bool = False,
        n_preds: int = 9,
        log_freq: int = 1000,
        run_id: str | None = None,
        **init_kwargs: Any,
    ) -> None:
        if log not in WANDB_LOG:
            raise ValueError(f"WandbCallback: log must be one of {WANDB_LOG}, got {log!r}")
        wandb_module()  # a missing extra fails here, not at the first fit
        super().__init__(log_preds=log_preds, n_preds=n_preds, log_model=log_model)
        self.project, self.log, self.log_freq, self.run_id = project, log, log_freq, run_id
        self.init_kwargs = init_kwargs
        self.wandb_run: Any = None  # the wandb Run of the current fit (`run` is the Callback's on/off switch)
        self._owned = self._watching = False
        self.run_dirs: list[Path] = []  # the local folder of each part of the run (one per fit)

    def _open(self) -> None:
        wandb = wandb_module()
        current = wandb.run
        if current is not None and current is self.wandb_run:
            run = current  # still open after a fit that ended in an error: this callback's own run goes on
        elif current is not None and self.run_id in (None, current.id):
            run, self._owned = current, False  # the user's own run (fastai's way): log into it, leave it open
        else:
            kwargs: dict[str, Any] = {"project": self.project, **self.init_kwargs}
            if self.run_id is None:
                kwargs.setdefault("config", run_params(self.learn))
            else:
                kwargs.update(id=self.run_id, resume="allow")
            run, self._owned = wandb.init(**kwargs), True  # becomes wandb.run, which wandb.watch's hooks log to
        self.wandb_run, self.run_id = run, run.id
        self.run_dirs.append(Path(run.dir).parent)
        self._watching = False
        if self.log is not None:
            model, log, freq = self.learn.model, self.log, self.log_freq
            self._watching = self._guard("watch the model", lambda: run.watch(model, log=log, log_freq=freq))

    def before_backward(self) -> None:
        # wandb.watch's hooks log to wandb.run during backward; a run finished under the callback would make them
        # fail inside the training step, so they come off first (test_a_finished_run_warns_once_and_training_goes_on)
        if self._watching and wandb_module().run is not self.wandb_run:
            self._watching = False
            self._guard("log gradients (the run was finished)", self._unwatch, True)

    def _unwatch(self, failed: bool = False) -> None:
        self.wandb_run.unwatch(self.learn.model)
        if failed:
            raise RuntimeError("wandb.run is no longer this callback's run")

    def _write_steps(self, rows: list[tuple[int, dict[str, float]]]) -> None:
        for step, row in rows:
            self.wandb_run.log(row, step=step)

    def _write_epoch(self, step: int, values: dict[str, float]) -> None:
        self.wandb_run.log(values, step=step)  # the step of the epoch's last batch: one history row with it

    def _write_image(self, step: int, epoch: int, image: Any) -> None:
        wandb = wandb_module()
        self.wandb_run.log({"predictions": wandb.Image(image, caption=f"epoch {epoch}")}, step=step)

    def _write_model(self, path: Path) -> None:
        wandb = wandb_module()
        artifact = wandb.Artifact(f"model-{self.wandb_run.id}", type="model")
        artifact.add_file(str(path), name="export.pth")
        self.wandb_run.log_artifact(artifact)

    def _close(self) -> None:
        run = self.wandb_run
        if run is None:
            return
        if self._watching:
            self._watching = False
            self._guard("stop watching the model", self._unwatch)
        self.wandb_run = None
        if self._owned:
            run.finish()

    def _run_state(self) -> dict[str, Any]:
        return {"run_id": self.run_id} if self.run_id is not None else {}

    def _load_run_state(self, state: dict[str, Any]) -> None:
        self.run_id = state.get("run_id", self.run_id)
