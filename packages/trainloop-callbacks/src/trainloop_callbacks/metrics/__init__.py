"""Metrics: the standard metrics, metrics over several classes or labels, and `AvgMetric`/`AccumMetric` to write
new ones (the `Metric` protocol and the loss averages are in `metrics.base`)."""

from trainloop_callbacks.metrics.base import AccumMetric, AvgMetric
from trainloop_callbacks.metrics.multi import DiceMulti, F1ScoreMulti, JaccardCoeffMulti, RocAucMulti, foreground_acc
from trainloop_callbacks.metrics.standard import (
    BalancedAccuracy,
    CohenKappa,
    Dice,
    F1Score,
    FBeta,
    JaccardCoeff,
    MatthewsCorrCoef,
    PearsonCorrCoef,
    Perplexity,
    Precision,
    R2Score,
    Recall,
    RocAucBinary,
    accuracy,
    accuracy_multi,
    error_rate,
    exp_rmspe,
    mae,
    mse,
    msle,
    rmse,
    top_k_accuracy,
)

__all__ = [
    "AvgMetric",
    "AccumMetric",
    # classification
    "accuracy",
    "error_rate",
    "top_k_accuracy",
    "accuracy_multi",
    "F1Score",
    "FBeta",
    "Precision",
    "Recall",
    "RocAucBinary",
    "MatthewsCorrCoef",
    "BalancedAccuracy",
    "CohenKappa",
    # segmentation
    "Dice",
    "JaccardCoeff",
    "foreground_acc",
    # several classes or labels
    "DiceMulti",
    "JaccardCoeffMulti",
    "F1ScoreMulti",
    "RocAucMulti",
    # regression
    "mse",
    "rmse",
    "mae",
    "msle",
    "exp_rmspe",
    "R2Score",
    "PearsonCorrCoef",
    # language models
    "Perplexity",
]
