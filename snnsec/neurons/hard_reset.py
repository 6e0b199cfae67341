"""The paper's neuron with a hard reset to 0 (Eq. 5): ``u <- u * (1 - s)``."""

from __future__ import annotations

import torch

from snnsec.neurons.base import NeuronModel, register_neuron


@register_neuron
class HardReset(NeuronModel):
    """Hard reset (Eq. 5): a spike empties the membrane. Loihi's CUBA neuron does the same."""

    name = "hard"
    summary = "hard reset: a spike sets u to 0 (Eq. 5; Loihi's CUBA neuron, NetX)"

    def reset(self, u: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Eq. (5) as written: two elementwise passes where Norse's general ``reset_value``
        (``(1 - z) * u + z * 0``) takes four, with the same values (up to the sign of a zero)."""
        return u * (1 - z)

    def reset_partials(self, u: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``u * (1 - z)``: :math:`\\partial/\\partial u = 1 - z`, :math:`\\partial/\\partial z = -u`."""
        return 1.0 - z, -u

    def fixed_reset(self, v: torch.Tensor, z: torch.Tensor, theta_v: int) -> torch.Tensor:
        return v * (1 - z)
