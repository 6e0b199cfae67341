"""Metrics (accuracy, attack success rate) and reports."""

from snnsec.evaluation.metrics import accuracy, predict

__all__ = ["accuracy", "predict"]
