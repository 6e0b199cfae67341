"""Run a NetX file in Lava itself (lava-dl's netx.hdf5.Network), recording every layer's spikes."""

from __future__ import annotations

from typing import Any

import numpy as np


def lava_netx_run(path: str, sample: np.ndarray, record_v: bool = False, **network_options: Any) -> list[dict[str, np.ndarray]]:
    """``sample`` ``[*lava input shape, steps]`` -> per layer ``{"spikes": [*shape, steps]}``
    (and ``"v"`` from a Monitor when ``record_v``), from one Lava fixed-point run."""
    from snnsec._lava_compat import install

    install()
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    from snnsec.backends.lava.runner import shutdown_runtime
    from snnsec.utils.malloc import release_free_memory

    steps = sample.shape[-1]
    net = netx.hdf5.Network(net_config=str(path), **network_options)
    source = Source(data=sample.astype(np.int32))
    source.s_out.connect(net.inp)
    sinks = []
    for layer in net.layers:
        sink = Sink(shape=tuple(layer.out.shape), buffer=steps)
        layer.out.connect(sink.a_in)
        sinks.append(sink)
    monitors = []
    if record_v:
        from lava.proc.monitor.process import Monitor

        for layer in net.layers:
            m = Monitor()
            m.probe(layer.neuron.v, steps)
            monitors.append(m)
    try:
        release_free_memory()  # as snnsec's runner does before Lava forks its workers
        source.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt", select_sub_proc_model=True))
        out = [{"spikes": np.asarray(s.data.get()).astype(np.int64)} for s in sinks]
        for o, m, layer in zip(out, monitors, net.layers):
            data = m.get_data()[layer.neuron.name]["v"]  # [steps, *shape]
            o["v"] = np.moveaxis(np.asarray(data), 0, -1).astype(np.int64)
    finally:
        shutdown_runtime(source)
    return out
