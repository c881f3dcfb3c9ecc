"""Metrics: the `Metric` protocol and its averaging classes, the standard metrics, multi-class/label metrics."""
