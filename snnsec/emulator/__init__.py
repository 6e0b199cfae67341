"""A batched, bit-exact emulator of Loihi 2's CUBA networks (lava-nc's fixed-point arithmetic).

- :func:`emulator_for` runs snnsec's quantised graphs (the ``loihi2-emu`` backend).
- :func:`run_netx` runs a NetX HDF5 file written by any tool (lava-dl's slayer, snnsec's
  exporter) and returns each layer's spikes in Lava's layout and timing.

Exact by construction: float32 only where the plan proves the integer sums exact, float64
elsewhere (:mod:`snnsec.emulator.plan`).
"""

from snnsec.emulator.compile import emulator_for, plan_fixed_graph
from snnsec.emulator.engine import Emulator, EmulatorResult

__all__ = ["Emulator", "EmulatorResult", "emulator_for", "plan_fixed_graph", "run_netx"]


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    if name == "run_netx":  # h5py only on use
        from snnsec.emulator.netx import run_netx

        return run_netx
    raise AttributeError(name)
