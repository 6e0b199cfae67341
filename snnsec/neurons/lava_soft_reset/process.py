"""The SoftResetLIF process: interface only (ports and variables); see ``models.py``."""

from __future__ import annotations

import typing as ty

import numpy as np
from lava.magma.core.process.process import LogConfig
from lava.magma.core.process.variable import Var
from lava.proc.lif.process import AbstractLIF


class SoftResetLIF(AbstractLIF):
    """Leaky integrate-and-fire neurons whose spike subtracts ``v_sub`` from ``v`` (soft reset).

    Same dynamics as Lava's :class:`~lava.proc.lif.process.LIFReset` between spikes::

        u[t] = u[t-1] * (1 - du) + a_in
        v[t] = v[t-1] * (1 - dv) + u[t] + bias
        s    = v[t] > vth
        v[t] = v[t] - v_sub * s          # Lava's LIF instead sets v[t] = 0

    This is the paper's soft reset ``u <- u - theta * s`` (Bu et al., CVPR 2023, Eq. 6). snnsec
    sets ``vth`` one quantum below theta (Loihi fires on ``v > vth``, the model on ``u >= theta``)
    and ``v_sub`` to theta itself.

    Args:
        shape: neuron shape.
        u, v: initial current and voltage.
        du, dv: current and voltage decays (fixed point: 12-bit, ``du`` + 1 is applied).
        bias_mant, bias_exp: bias mantissa and exponent (fixed point: ``bias_mant << bias_exp``).
        vth: threshold (fixed point: mantissa, applied as ``vth << 6``).
        v_sub: amount subtracted on a spike (fixed point: mantissa, ``v_sub << 6``); default ``vth``.
        reset_interval, reset_offset: zero ``u`` and ``v`` whenever
            ``time_step % reset_interval == reset_offset``, as ``LIFReset`` does, so samples can
            stream back to back; ``reset_interval=0`` never resets.
    """

    def __init__(
        self,
        *,
        shape: ty.Tuple[int, ...],
        u: ty.Union[float, np.ndarray] = 0,
        v: ty.Union[float, np.ndarray] = 0,
        du: float = 0,
        dv: float = 0,
        bias_mant: ty.Union[float, np.ndarray] = 0,
        bias_exp: ty.Union[float, np.ndarray] = 0,
        vth: float = 10,
        v_sub: ty.Optional[float] = None,
        reset_interval: int = 0,
        reset_offset: int = 0,
        name: ty.Optional[str] = None,
        log_config: ty.Optional[LogConfig] = None,
    ) -> None:
        super().__init__(shape=shape, u=u, v=v, du=du, dv=dv, bias_mant=bias_mant, bias_exp=bias_exp,
                         name=name, log_config=log_config)
        if reset_interval < 0:
            raise ValueError(f"reset_interval must be >= 0 (0: never). Found {reset_interval=}.")
        if reset_offset < 0:
            raise ValueError(f"reset_offset must be >= 0. Found {reset_offset=}.")
        sub = vth if v_sub is None else v_sub
        if sub <= 0:
            raise ValueError(f"v_sub must be positive for a soft reset. Found {sub=}.")
        self.vth = Var(shape=(1,), init=vth)
        self.v_sub = Var(shape=(1,), init=sub)
        self.proc_params["reset_interval"] = int(reset_interval)
        self.proc_params["reset_offset"] = int(reset_offset)
