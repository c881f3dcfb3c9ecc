"""Experiment tracking where users already look: TensorBoard, MLflow, Weights & Biases.

Each tracker is an optional extra of trainloop-callbacks (`tensorboard`, `mlflow`, `wandb`), imported when its
callback is created; `ExperimentTracker` holds what they share (rank 0 only, optimizer-step numbering that
survives resumes, no logging during `lr_find` or `get_preds`, failures that warn once and never stop training).
"""

from trainloop_callbacks.trackers._base import ExperimentTracker, run_params
from trainloop_callbacks.trackers.mlflow import MLflowCallback
from trainloop_callbacks.trackers.tensorboard import TensorBoardCallback
from trainloop_callbacks.trackers.wandb import WandbCallback

__all__ = ["TensorBoardCallback", "MLflowCallback", "WandbCallback", "ExperimentTracker", "run_params"]
