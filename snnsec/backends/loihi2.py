"""Loihi 2 hardware (``Loihi2HwCfg``): needs Intel's lava-loihi extension, which is not public."""

from __future__ import annotations

from typing import Any

import torch

from snnsec.backends.base import Prediction, input_steps
from snnsec.errors import SnnsecError
from snnsec.models.base import SpikingModel

MISSING = ("the loihi2 backend needs Intel's lava-loihi extension (INRC members only), which is not "
           "installed here; use --backend lava-sim (bit-accurate Loihi 2 arithmetic) or see "
           "docs/deployment.md, section 'Running on Loihi 2'")


def lava_loihi_installed() -> bool:
    from snnsec._lava_compat import install

    install()
    from lava.utils.loihi import is_installed

    return bool(is_installed())


class Loihi2Backend:
    """Runs the exported NetX network on a Loihi 2 board through lava-loihi.

    Untested in this repository (no board, no lava-loihi); it fails early with one line when
    lava-loihi is missing. Neurons without a NetX form (soft reset) are refused by the NetX export.
    """

    name = "loihi2"

    def __init__(self, model: SpikingModel, **options: Any) -> None:
        if not lava_loihi_installed():
            raise SnnsecError(MISSING)
        from snnsec.backends.lava_sim import LavaSimBackend

        self.sim = LavaSimBackend(model, precision="fixed", builder="netx", **options)
        self.model = model

    def predict(self, x: torch.Tensor, seed: int = 0) -> Prediction:
        from lava.magma.core.run_configs import Loihi2HwCfg

        pred, _ = self.sim.run_steps(input_steps(self.model, x, seed), run_cfg=Loihi2HwCfg())
        pred.info["backend"] = self.name
        return pred
