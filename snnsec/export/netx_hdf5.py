"""Write a model as lava-dl NetX HDF5, the file ``lava.lib.dl.netx.hdf5.Network`` loads unchanged.

Layout, as lava-dl 0.6.0's reader expects it (everything a dataset, no attributes)::

    /layer/0/type   b"input"      shape (C, H, W) or (N,): the input the first synapse reads
    /layer/i/type   b"conv" | b"flatten" | b"dense"
    /layer/i/shape  neuron shape (C, H, W) or (N,)
    /layer/i/weight integers on Loihi's 8-bit grid, torch layout; /layer/i/bias (optional)
    /layer/i/stride, padding (h, w), dilation, groups   (conv only)
    /layer/i/neuron/{type=b"CUBA", iDecay, vDecay, vThMant, refDelay, gradedSpike}
    /snnsec/meta    JSON: how to feed and read the network (ignored by NetX)

NetX reads conv weights as (out, in, kh, kw), flips the kernel and transposes it to Lava's
(out, kw, kh, in) for its true convolution, so a torch kernel written as-is gives torch's
cross-correlation. It passes ``du = iDecay - 1`` to Lava's LIF, whose fixed-point model adds
back 1, so ``iDecay = 4096`` is exactly "no synaptic memory". Dense weights go through NetX's
``optimize_weight_bits``, which is lossless for even weights in [-256, 254].

NetX expresses chains of conv/dense layers only: residual models and soft-reset neurons are
refused here and run on lava-sim through :mod:`snnsec.backends.lava.network` instead.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from snnsec.errors import InputError
from snnsec.export.graph import model_graph
from snnsec.export.quantize import DEFAULT_INPUT_SCALE, FixedGraph, quantize
from snnsec.models.base import SpikingModel
from snnsec.utils.io import atomic_write

FORMAT = "snnsec-netx"
FORMAT_VERSION = 1


def check_netx_expressible(fixed: FixedGraph) -> None:
    """Raise :class:`InputError` if NetX cannot express ``fixed`` exactly."""
    if not fixed.graph.is_chain:
        raise InputError("NetX expresses chains of conv/dense layers only; this model has residual "
                         "connections: run it with `snnsec deploy --backend lava-sim`, which builds its "
                         "Lava process graph directly")
    for p in fixed.populations:
        problem = p.neuron.netx_problem() if p.neuron is not None else None
        if problem:
            raise InputError(f"{p.name} has no NetX form: its neuron (reset={p.neuron.name!r}) {problem}")
        if p.synapses[0].kind == "conv" and p.synapses[0].groups != 1:
            raise InputError(f"{p.name}: grouped convolutions are not exported to NetX")


def netx_meta(fixed: FixedGraph) -> dict[str, Any]:
    g = fixed.graph
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "T": g.T,
        "encoder": g.encoder,
        "input_shape": list(g.input_shape),
        "input_spiking": g.input_spiking,
        "input_offset": [float(v) for v in g.input_offset],
        "input_scale": fixed.input_scale,
        "input_message_bits": fixed.message_bits,
        "latency": g.latency,
        "readout": "membrane v of the last layer (never spikes), read at the last step of each sample",
        "streaming": {"reset_interval": g.T, "reset_offset": 1},
        "quantization": fixed.report_dicts(),
    }


def write_netx(fixed: FixedGraph, path: str | os.PathLike[str], extra_meta: dict[str, Any] | None = None) -> Path:
    """Write ``fixed`` as a NetX HDF5 file (atomically)."""
    check_netx_expressible(fixed)
    path = Path(path)
    meta = {**netx_meta(fixed), **(extra_meta or {})}
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        layers = f.create_group("layer")
        _string(layers.create_group("0"), "type", "input")
        in_shape = fixed.graph.input_shape
        first = fixed.populations[0].synapses[0]
        layers["0"].create_dataset("shape", data=np.array(in_shape if first.kind == "conv" else (int(np.prod(in_shape)),)))
        index = 1
        for i, pop in enumerate(fixed.populations):
            syn = pop.synapses[0]
            if syn.kind == "dense" and syn.flatten and i > 0:
                _string(layers.create_group(str(index)), "type", "flatten")
                index += 1
            grp = layers.create_group(str(index))
            index += 1
            _string(grp, "type", syn.kind)
            grp.create_dataset("shape", data=np.array(pop.shape))
            grp.create_dataset("weight", data=syn.weight.astype(np.int16))
            if np.any(pop.bias):
                grp.create_dataset("bias", data=pop.bias.astype(np.int32))
            if syn.kind == "conv":
                grp.create_dataset("stride", data=np.array(syn.stride))
                grp.create_dataset("padding", data=np.array(syn.padding))
                grp.create_dataset("dilation", data=np.array([1, 1]))
                grp.create_dataset("groups", data=np.array(syn.groups))
            neuron = grp.create_group("neuron")
            _string(neuron, "type", "CUBA")
            neuron.create_dataset("iDecay", data=np.array(pop.i_decay))
            neuron.create_dataset("vDecay", data=np.array(pop.v_decay))
            neuron.create_dataset("vThMant", data=np.array(pop.vth_mant))
            neuron.create_dataset("refDelay", data=np.array(1))
            neuron.create_dataset("gradedSpike", data=np.array(False))
        f.create_group("snnsec").create_dataset("meta", data=json.dumps(meta))
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())
    return path


def read_netx_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``/snnsec/meta`` record of a file written by :func:`write_netx`."""
    try:
        with h5py.File(path, "r") as f:
            raw = f["snnsec/meta"][()]
    except (OSError, KeyError) as exc:
        raise InputError(f"{path} is not a NetX file written by snnsec ({exc})") from None
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def export_netx(model: SpikingModel, path: str | os.PathLike[str], input_scale: float = DEFAULT_INPUT_SCALE) -> dict[str, Any]:
    """Fold, quantise and write ``model``; returns a summary with the per-layer quantisation error."""
    fixed = quantize(model_graph(model), input_scale)
    write_netx(fixed, path, {"model": model.meta.to_dict()})
    return {"format": "netx", "out": str(path), "layers": len(fixed.populations),
            "latency": fixed.graph.latency, "input_scale": fixed.input_scale,
            "input_message_bits": fixed.message_bits, "quantization": fixed.report_dicts()}


def _string(group: h5py.Group, name: str, value: str) -> None:
    # NetX reads strings as |S10 arrays of length 1 and decodes element 0.
    group.create_dataset(name, data=np.array([value.encode("ascii")], dtype="S10"))
