"""Process models of SoftResetLIF: floating point, and bit-accurate Loihi 2 fixed point.

Both reuse lava-nc's LIF sub-threshold dynamics unchanged (``AbstractPyLifModelFloat`` /
``AbstractPyLifModelFixed``) and change only the reset. Imports are absolute: Lava's compiler
executes this file as a top-level module while it searches for process models.

On a Loihi 2 chip this neuron needs a microcoded neuron program (the built-in CUBA neuron only
resets to 0); these models define the arithmetic such a program must reproduce.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.ports import PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.lif.models import AbstractPyLifModelFixed, AbstractPyLifModelFloat

from snnsec.neurons.lava_soft_reset.process import SoftResetLIF


def _reset_due(time_step: int, interval: int, offset: int) -> bool:
    return interval > 0 and time_step % interval == offset % interval


@implements(proc=SoftResetLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySoftResetLifModelFloat(AbstractPyLifModelFloat):
    """Floating-point SoftResetLIF."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    vth: float = LavaPyType(float, float)
    v_sub: float = LavaPyType(float, float)

    def __init__(self, proc_params) -> None:  # type: ignore[no-untyped-def]
        super().__init__(proc_params)
        self.reset_interval = proc_params["reset_interval"]
        self.reset_offset = proc_params["reset_offset"]

    def spiking_activation(self) -> np.ndarray:
        return self.v > self.vth

    def reset_voltage(self, spike_vector: np.ndarray) -> None:
        self.v[spike_vector] -= self.v_sub  # soft reset: keep the charge above threshold

    def run_spk(self) -> None:
        a_in = self.a_in.recv()
        if _reset_due(self.time_step, self.reset_interval, self.reset_offset):
            self.u *= 0
            self.v *= 0
        self.subthr_dynamics(activation_in=a_in)
        s_out = self.spiking_activation()
        self.reset_voltage(spike_vector=s_out)
        self.s_out.send(s_out)


@implements(proc=SoftResetLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PySoftResetLifModelBitAcc(AbstractPyLifModelFixed):
    """Bit-accurate SoftResetLIF: Loihi 2's 24-bit u and v, 12-bit decays, thresholds << 6."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    vth: int = LavaPyType(int, np.int32, precision=17)
    v_sub: int = LavaPyType(int, np.int32, precision=17)

    def __init__(self, proc_params) -> None:  # type: ignore[no-untyped-def]
        super().__init__(proc_params)
        self.reset_interval = proc_params["reset_interval"]
        self.reset_offset = proc_params["reset_offset"]
        self.effective_vth = 0
        self.effective_v_sub = 0

    def scale_threshold(self) -> None:
        # Loihi MSB-aligns the threshold (and so the subtracted amount) by 6 bits.
        self.effective_vth = np.left_shift(self.vth, self.vth_shift)
        self.effective_v_sub = np.left_shift(self.v_sub, self.vth_shift)
        self.isthrscaled = True

    def spiking_activation(self) -> np.ndarray:
        return self.v > self.effective_vth  # Loihi spikes if v > vth << 6 (strict)

    def reset_voltage(self, spike_vector: np.ndarray) -> None:
        # v stays within 24 bits: it was <= 2**23 - 1 and v_sub > 0.
        self.v[spike_vector] -= self.effective_v_sub

    def run_spk(self) -> None:
        a_in = self.a_in.recv()
        if _reset_due(self.time_step, self.reset_interval, self.reset_offset):
            self.u *= 0
            self.v *= 0
        self.scale_bias()
        if not self.isthrscaled:
            self.scale_threshold()
        self.subthr_dynamics(activation_in=a_in)
        s_out = self.spiking_activation()
        self.reset_voltage(spike_vector=s_out)
        self.s_out.send(s_out)
