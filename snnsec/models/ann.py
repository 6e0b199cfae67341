r"""The quantised-ANN twin of a spiking model: every neuron replaced by clamp-and-round (QCFS).

The activation is QCFS (Bu et al., ICLR 2022, "Optimal ANN-SNN Conversion for High-accuracy and
Ultra-low-latency Spiking Neural Networks"), the one whose output an IF neuron's firing rate
approximates, with :math:`L` levels (8 in the reference code and in the RGA paper's Fig. 8):

.. math::
    \operatorname{qcfs}(I) = \frac{\theta}{L}\Bigl\lfloor L\,\operatorname{clip}\bigl(\tfrac{I}{\theta}, 0, 1\bigr)
      + s \Bigr\rfloor, \quad s = \tfrac12, \qquad
    \frac{\partial \operatorname{qcfs}}{\partial I} = \mathbb 1[0 \le I \le \theta]
    \text{ (straight-through floor)}.

It lives here (layer 1) so that three users share one definition: the ACT gradient estimator
(:mod:`snnsec.attacks.gradients.act`, which runs the twin only in its backward), ``snnsec train
--ann`` (which trains the twin as a network of its own) and the model loader, which rebuilds a
trained twin from its file: ``meta.recipe["ann_twin"] = {"activation": "qcfs", "levels": L}``
marks the file, and :func:`~snnsec.models.build.model_from_meta` calls :func:`make_ann_twin`.
The twin keeps the SNN's layers, encoder and ``T``; with the direct encoder every time step sees
the same input, so its time-averaged logits are exactly the ANN's (train it with ``T = 1``).
Attacks run on it with the usual commands: STBP's backward through it is plain backpropagation
through the straight-through floor, and RGA's rate-domain slope is the same indicator.
"""

from __future__ import annotations

from typing import Any

import torch

from snnsec.errors import InputError
from snnsec.neurons import LIF, NeuronModel, NeuronParameters, NeuronState

ANN_KEY = "ann_twin"  # key in ModelMeta.recipe that marks a model file as the quantised-ANN twin


def qcfs(current: torch.Tensor, theta: float, levels: int = 8, shift: float = 0.5) -> torch.Tensor:
    """Clamp-and-round activation with a straight-through floor (gradient 1 on [0, theta])."""
    v = (current / theta).clamp(0.0, 1.0) * levels + shift
    return theta * (v + (v.floor() - v).detach()) / levels


class QCFSNeuron(NeuronModel):
    """A stateless neuron whose output is :func:`qcfs` of its input current (no spikes, no time).

    Not registered in ``NEURONS``: it is no neuron type that hardware runs, only what the twin's
    layers compute. The membrane state passes through unchanged (zeros).
    """

    name = "qcfs"
    summary = "clamp-and-round activation of the quantised-ANN twin (QCFS)"

    def __init__(self, p: NeuronParameters, levels: int = 8, shift: float = 0.5) -> None:
        super().__init__(p)
        self.levels = int(levels)
        self.shift = float(shift)

    def step(self, current: torch.Tensor, state: NeuronState) -> tuple[torch.Tensor, NeuronState]:
        return qcfs(current, self.theta, self.levels, self.shift), state

    def plain_step(self, current: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return qcfs(current, self.theta, self.levels, self.shift).detach(), u

    def rga_slope(self, current: torch.Tensor, beta: float = 2.0, gamma: float = 0.2) -> torch.Tensor:
        return ((current >= 0) & (current <= self.theta)).to(current.dtype)

    def lava_process(self, theta: float | int, **common: Any) -> Any:
        raise InputError("the quantised-ANN twin has no spiking neurons to run on Lava; export the SNN instead")

    def netx_problem(self) -> str | None:
        return "the quantised-ANN twin has no spiking neurons (QCFS activations); export the SNN instead"


def check_levels(levels: Any) -> int:
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
        raise InputError(f"ann levels must be a positive integer, got {levels!r}")
    return levels


def ann_config(levels: int = 8) -> dict[str, Any]:
    """What :data:`ANN_KEY` holds in a twin's recipe."""
    return {"activation": "qcfs", "levels": check_levels(levels)}


def make_ann_twin(model: torch.nn.Module, levels: int = 8) -> torch.nn.Module:
    """Turn every :class:`LIF` layer of ``model`` into a QCFS activation, in place; returns ``model``."""
    levels = check_levels(levels)
    found = 0
    for module in model.modules():
        if isinstance(module, LIF):
            module.neuron = QCFSNeuron(module.p, levels)
            found += 1
    if not found:
        raise InputError("the model has no spiking layers to replace with the QCFS activation")
    return model


def apply_ann_record(model: torch.nn.Module, recipe: dict[str, Any] | None) -> None:
    """Rebuild the twin when a model file's recipe says it is one (see the module docstring)."""
    record = (recipe or {}).get(ANN_KEY)
    if record is None:
        return
    if not isinstance(record, dict) or record.get("activation") != "qcfs":
        raise InputError(f"meta.recipe.{ANN_KEY}: expected {{'activation': 'qcfs', 'levels': L}}, got {record!r}")
    make_ann_twin(model, record.get("levels", 8))


def is_ann_twin(meta: Any) -> bool:
    return ANN_KEY in (getattr(meta, "recipe", None) or {})
