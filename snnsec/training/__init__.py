"""STBP training (surrogate-gradient backpropagation through time)."""

from snnsec.training.stbp import Recipe, TrainResult, train

__all__ = ["Recipe", "TrainResult", "train"]
