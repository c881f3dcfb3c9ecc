"""`MLflowCallback`: the run in MLflow: parameters, metrics per epoch and the exported model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from trainloop_callbacks.trackers._base import ExperimentTracker, missing_extra, run_params

__all__ = ["MLflowCallback"]


def mlflow_client() -> Any:
    """mlflow's tracking client and entities, or an error naming the extra to install."""
    try:
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient
    except ImportError as e:
        raise missing_extra("MLflowCallback", "mlflow (mlflow-skinny is enough)", "mlflow") from e
    return MlflowClient, Metric, Param


class MLflowCallback(ExperimentTracker):
    """Logs the run to MLflow through its client (no global active run is touched).

    At the start of the run: parameters (`run_params`: the Learner's hyper-parameters, batch size, data sizes and
    the optimizer's recipe). Each epoch: the Recorder's row (`train_loss`, `valid_loss`, metrics) and `epoch`, at
    the optimizer step the epoch ended. At the end of each fit, with `log_model`, the learner's safe export
    (`learn.export`) as the artifact `model/export.pth`. The run is `experiment`'s (created if new; default: MLflow's
    default experiment) and named `run_name`; `run_id` continues an existing run, as later fits with this callback
    and resumed fits do. `tracking_uri` (default: MLflow's, e.g. `MLFLOW_TRACKING_URI`) says where runs are stored.
    Needs the `mlflow` extra: `pip install "trainloop-callbacks[mlflow]"` (mlflow-skinny).
    """

    per_step = False  # metrics per epoch

    def __init__(
        self,
        experiment: str | None = None,
        run_name: str | None = None,
        log_model: bool = True,
        tracking_uri: str | None = None,
        run_id: str | None = None,
    ) -> None:
        mlflow_client()  # a missing extra fails here, not at the first fit
        super().__init__(log_model=log_model)
        self.experiment, self.run_name, self.tracking_uri, self.run_id = experiment, run_name, tracking_uri, run_id
        self.client: Any = None

    @property
    def name(self) -> str:
        """`learn.mlflow` (the class name would give `m_lflow`)."""
        return self._name or "mlflow"

    def _open(self) -> None:
        client_cls, _, param_cls = mlflow_client()
        self.client = client = client_cls(tracking_uri=self.tracking_uri)
        if self.run_id is not None:  # a later fit or a resume: the same run goes on
            client.update_run(self.run_id, status="RUNNING")
            return
        if self.experiment is None:
            exp_id = "0"  # MLflow's default experiment
        else:
            exp = client.get_experiment_by_name(self.experiment)
            exp_id = exp.experiment_id if exp is not None else client.create_experiment(self.experiment)
        run = client.create_run(exp_id, run_name=self.run_name)
        self.run_id = run.info.run_id
        params = [param_cls(k, str(v)[:6000]) for k, v in run_params(self.learn).items()]
        client.log_batch(self.run_id, params=params)

    def _write_steps(self, rows: list[tuple[int, dict[str, float]]]) -> None:
        del rows  # per-epoch metrics only

    def _write_epoch(self, step: int, values: dict[str, float]) -> None:
        _, metric_cls, _ = mlflow_client()
        stamp = int(time.time() * 1000)
        metrics = [metric_cls(k, float(v), stamp, step) for k, v in values.items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def _write_model(self, path: Path) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path="model")

    def _close(self) -> None:
        if self.client is not None and self.run_id is not None:
            self.client.set_terminated(self.run_id)

    def _run_state(self) -> dict[str, Any]:
        return {"run_id": self.run_id} if self.run_id is not None else {}

    def _load_run_state(self, state: dict[str, Any]) -> None:
        self.run_id = state.get("run_id", self.run_id)
