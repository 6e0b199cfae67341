"""SoftResetLIF: Lava's CUBA LIF neuron with a soft reset (the spike subtracts the threshold).

Kept in its own package, as Lava's compiler expects: it finds the process models of
``process.SoftResetLIF`` by importing every module next to ``process.py``.
"""
