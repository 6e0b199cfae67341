"""Spiking architectures, a registry by name, and safe model files.

A new architecture is one file with a ``@register_model`` builder plus one import line here.
"""

from __future__ import annotations

from snnsec.models import resnet, sequential, vgg  # noqa: F401  (registers the architectures)
from snnsec.models.base import SpikingModel
from snnsec.models.build import build_model, model_from_meta
from snnsec.models.containers import ResidualBlock, SpikingSequential
from snnsec.models.io import load_model, save_model
from snnsec.models.meta import ModelMeta
from snnsec.models.registry import MODELS, get_model_entry, register_model

__all__ = [
    "MODELS",
    "ModelMeta",
    "ResidualBlock",
    "SpikingModel",
    "SpikingSequential",
    "build_model",
    "get_model_entry",
    "load_model",
    "model_from_meta",
    "register_model",
    "save_model",
]
