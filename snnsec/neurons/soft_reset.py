"""The paper's neuron with a soft reset (Eq. 6): ``u <- u - theta * s``."""

from __future__ import annotations

from typing import Any

import torch

from snnsec.neurons.base import NeuronModel, register_neuron


@register_neuron
class SoftReset(NeuronModel):
    """Soft reset (Eq. 6): a spike subtracts the threshold and keeps the charge above it.

    Loihi's CUBA neuron resets to 0, so this runs on snnsec's ``SoftResetLIF`` Lava process
    (``snnsec/neurons/lava_soft_reset``) and has no NetX form.
    """

    name = "soft"
    summary = "soft reset: a spike subtracts theta from u (Eq. 6; Lava via SoftResetLIF, no NetX)"

    def reset(self, u: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Eq. (6) as written: two elementwise passes where Norse's general ``reset_subtract``
        (``(1 - z) * u + z * (u - theta)``) takes five, with the same values (up to the sign of a zero)."""
        return u - self.p.theta * z

    def reset_partials(self, u: torch.Tensor, z: torch.Tensor) -> tuple[float, float]:
        """``u - theta * z``: the constants ``(1, -theta)``."""
        return 1.0, -self.p.theta

    def fixed_reset(self, v: torch.Tensor, z: torch.Tensor, theta_v: int) -> torch.Tensor:
        return v - z * theta_v

    def lava_process(self, theta: float | int, **common: Any) -> Any:
        from snnsec.neurons.lava_soft_reset.process import SoftResetLIF

        return SoftResetLIF(v_sub=theta, **common)

    def netx_problem(self) -> str | None:
        return ("resets by subtracting theta, but NetX's CUBA neuron resets to 0: run it with "
                "`snnsec deploy --backend lava-sim` (snnsec's SoftResetLIF process)")

    def nir_problem(self) -> str | None:
        return "soft reset (u -= theta on a spike) has no NIR form; NIR neurons reset to v_reset"
