"""Adversarial-example files (``adv.pt``): written by ``snnsec craft``, read by ``evaluate`` and ``deploy``.

The file is ``torch.save`` of a plain dict, read back with the weights-only unpickler::

    {
      "format": "snnsec-adversarial", "format_version": 1,
      "x":     float32 [N, *sample_shape]   clean inputs in the model's input domain
      "x_adv": float32 [N, *sample_shape]   adversarial inputs
      "y":     int64   [N]                  true labels
      "index": int64   [N]                  sample indices in the dataset split
      "meta":  {...}                        JSON data: attack config (eps as written, e.g.
                                            "8/255"), model file SHA-256, dataset, split,
                                            seed, snnsec version, ...
    }
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from snnsec.errors import InputError
from snnsec.utils.io import atomic_torch_save, safe_torch_load
from snnsec.utils.schema import check_adversarial_for_model, check_adversarial_payload

FORMAT = "snnsec-adversarial"
FORMAT_VERSION = 1


@dataclass
class AdversarialSet:
    """Clean and adversarial inputs with labels and provenance."""

    x: torch.Tensor
    x_adv: torch.Tensor
    y: torch.Tensor
    index: torch.Tensor
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.y)

    def validate(self, source: str = "adversarial set") -> "AdversarialSet":
        n = len(self.y)
        if self.x.shape != self.x_adv.shape:
            raise InputError(f"{source}: x {list(self.x.shape)} and x_adv {list(self.x_adv.shape)} differ in shape")
        if len(self.x) != n or len(self.index) != n:
            raise InputError(f"{source}: x, x_adv, y and index must have the same length, got {len(self.x)}, {n}, {len(self.index)}")
        return self


def save_adversarial(path: str | os.PathLike[str], adv: AdversarialSet) -> Path:
    """Write ``adv`` atomically."""
    adv.validate()
    atomic_torch_save(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "x": adv.x.detach().cpu().float(),
            "x_adv": adv.x_adv.detach().cpu().float(),
            "y": adv.y.detach().cpu().long(),
            "index": adv.index.detach().cpu().long(),
            "meta": adv.meta,
        },
        path,
    )
    return Path(path)


def load_adversarial(path: str | os.PathLike[str]) -> AdversarialSet:
    """Read an ``adv.pt`` file (weights-only; a foreign or malicious file is refused in one line)."""
    payload = safe_torch_load(path, "adversarial file", FORMAT, FORMAT_VERSION, "a file written by `snnsec craft`")
    check_adversarial_payload(payload, str(path))  # fields, dtypes, shapes, finite inputs, labels >= 0
    adv = AdversarialSet(payload["x"], payload["x_adv"], payload["y"], payload["index"], dict(payload.get("meta", {})))
    return adv.validate(str(path))


def check_for_model(adv: AdversarialSet, meta: Any, source: str, model: str = "the model") -> None:
    """Refuse a set the model described by ``meta`` (a :class:`~snnsec.models.ModelMeta`) cannot
    read: samples of another shape, inputs outside its encoder's domain, labels beyond its classes."""
    from snnsec.encoders import ENCODERS

    domain = ENCODERS[meta.encoder].domain if meta.encoder in ENCODERS else (float("-inf"), float("inf"))
    check_adversarial_for_model(source, adv.x, adv.x_adv, adv.y, domain=domain, num_classes=meta.num_classes,
                                input_shape=meta.input_shape, model=model)
