"""Named training presets for ``snnsec train --recipe NAME``; every flag still overrides them.

``paper`` is the reference code's recipe for VGG-11 / ResNet-17 on CIFAR-10 (paper §5.1 and
``/work/shared/notes/paper-facts.md``): SGD with lr 0.1, momentum 0.9, weight decay 5e-4, a
cosine schedule, 200 epochs, batch 64, T = 8, and the CIFAR augmentation (random crop of the
4-pixel padded image, horizontal flip, Cutout(16)) where the dataset offers it.
``default`` is the quick recipe snnsec has always used (Adam, 3 epochs).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from snnsec.errors import unknown_choice

log = logging.getLogger(__name__)

#: flag destination -> value. Keys are the ``snnsec train`` argument names.
RECIPES: dict[str, dict[str, Any]] = {
    "default": {"epochs": 3, "batch_size": 64, "optimizer": "adam", "momentum": 0.9, "weight_decay": 0.0,
                "augment": False},
    "paper": {"epochs": 200, "batch_size": 64, "optimizer": "sgd", "lr": 0.1, "momentum": 0.9,
              "weight_decay": 5e-4, "augment": True, "T": 8},
}


def apply_recipe(args: argparse.Namespace, name: str, augment_available: bool,
                 skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Fill every option the user left unset (``None``) from recipe ``name``; return what was filled.

    ``augment`` is only filled in where the dataset has an augmentation (``augment_available``);
    keys in ``skip`` are left alone (event datasets keep their own number of frame bins ``T``).
    """
    if name not in RECIPES:
        raise unknown_choice("recipe", name, RECIPES)
    filled: dict[str, Any] = {}
    for key, value in RECIPES[name].items():
        if key in skip:
            continue
        if key == "augment" and value and not augment_available:
            log.info("recipe %s: this dataset has no training augmentation; training without it", name)
            value = False
        if getattr(args, key, None) is None:
            setattr(args, key, value)
            filled[key] = value
    return filled
