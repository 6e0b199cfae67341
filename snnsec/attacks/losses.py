"""Losses the attack maximises: ``loss(logits [B, classes], labels [B]) -> scalar``.

All are summed over the batch, so each sample's gradient does not depend on the batch size.
A new loss is one function plus one line in :data:`LOSSES`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from snnsec.attacks.gradients.base import Loss
from snnsec.errors import InputError, unknown_choice


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r""":math:`\sum_i -\log \operatorname{softmax}(z_i)_{y_i}` (untargeted: pushed up)."""
    return F.cross_entropy(logits, y, reduction="sum")


def margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Carlini-Wagner margin :math:`\sum_i \max_{j \ne y_i} z_{ij} - z_{i y_i}` (> 0 once fooled).

    Unlike cross-entropy it does not saturate on confidently classified samples, which matters
    for SNNs, whose time-averaged logits are coarse.
    """
    true = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.masked_fill(F.one_hot(y, logits.shape[1]).bool(), float("-inf"))
    return (others.amax(1) - true).sum()


def dlr(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Difference of logits ratio (Croce & Hein, ICML 2020, Eq. 6), summed over the batch:

    .. math:: \mathrm{DLR}(z, y) = -\frac{z_y - \max_{i \ne y} z_i}{z_{\pi_1} - z_{\pi_3} + 10^{-12}},

    :math:`\pi` sorting the logits in decreasing order. The margin divided by the spread of the top
    logits: invariant to shifting and rescaling the logits, so coarse or large SNN logits
    (time averages of spike counts) do not make it saturate. Needs at least 3 classes.
    """
    if logits.shape[1] < 3:
        raise InputError(f"the dlr loss needs at least 3 classes, got logits of shape {tuple(logits.shape)}")
    top = logits.sort(dim=1, descending=True).values
    true = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.masked_fill(F.one_hot(y, logits.shape[1]).bool(), float("-inf")).amax(1)
    return (-(true - others) / (top[:, 0] - top[:, 2] + 1e-12)).sum()


LOSSES: dict[str, Loss] = {"ce": cross_entropy, "margin": margin, "dlr": dlr}


def get_loss(name: str) -> Loss:
    if name not in LOSSES:
        raise unknown_choice("loss", name, LOSSES)
    return LOSSES[name]
