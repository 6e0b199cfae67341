r"""NIR (Neuromorphic Intermediate Representation) graphs in and out of snnsec.

**Export** (``snnsec export --format nir``, :func:`export_nir`): the folded population graph of
:mod:`snnsec.export.graph` (BatchNorm and average pooling folded into the weights, the encoder's
1/std into the first layer) becomes NIR nodes: ``Conv2d`` / ``Flatten`` + ``Affine`` synapses
and one neuron node per layer. Direct input enters through a 1x1 depthwise ``Conv2d`` with bias
``-mean`` (the encoder's offset), so the graph takes pixels in [0, 1]. The last ``Affine``
is the readout: its output at each step is the logits of that step, and snnsec's logits are their
mean over ``T`` steps. Residual blocks become two synapse nodes into one neuron node (NIR sums a
node's inputs). The neurons map exactly under one convention, written into the graph metadata
(key ``snnsec``, a JSON string) together with ``T``, the encoder and the readout:

- **IF** (λ = 1, hard reset): ``nir.IF(r=1, v_threshold=θ, v_reset=0)``: :math:`v \leftarrow v + I`;
- **LIF** (λ < 1, hard reset): ``nir.LIF(tau=1/(1-λ), r=tau, v_leak=0, v_threshold=θ, v_reset=0)``,
  exact with forward Euler at ``dt = 1``: :math:`v \leftarrow v + (1/\tau)(-v + \tau I) = λv + I`;
- **soft reset** (:math:`u \leftarrow u - θ` on a spike) has no NIR form (NIR neurons reset to
  ``v_reset``): export refuses it.
- **Firing tie:** NIR fires on ``v > θ``, snnsec on ``u ≥ θ``; they differ only on a step where a
  membrane equals θ exactly.

The neuron mappings live on the neuron classes (:meth:`snnsec.neurons.NeuronModel.to_nir`,
``from_nir`` and ``nir_problem``); this module only walks graphs.

**Import** (``snnsec import --nir``, :func:`load_nir`, ``snnsec.load_model("m.nir")``): a chain of
``Input -> (Conv2d | Affine | Linear | AvgPool2d | SumPool2d | Flatten | Scale | IF | LIF |
CubaLIF)* -> Output`` becomes an snnsec model of architecture ``sequential`` (its layer list is
stored in the metadata). Neurons are integrated with forward Euler at ``dt`` (NIR's continuous-time
equations): a LIF with time constant τ, resistance R and leak voltage :math:`v_\mathrm{leak}` is
snnsec's neuron with λ = 1 - dt/τ whose input current is ``(dt/τ)·R·I + (dt/τ)·v_leak``; the gain
and the constant current are folded into the weight layer before the neuron. ``CubaLIF`` maps only
without synaptic memory (``dt = tau_syn``, so ``I = w_in·S`` each step). Branches, recurrence,
other node types, ``v_reset ≠ 0`` and parameters that differ between the neurons of one layer
are refused with one line naming the node.

``convention="norse"`` reads files from Norse 1.1's ``to_nir``, which writes ``tau = dt/τ⁻¹``
instead of τ: the Euler factor is then ``dt²/tau`` (= Norse's ``dt·τ⁻¹``). snnTorch's exporter
writes ``tau = dt/(1-β)``, ``r = tau/dt`` with its ``dt = 1e-4``: import those with ``dt=1e-4``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from snnsec.encoders import ENCODERS
from snnsec.errors import InputError, unknown_choice
from snnsec.models import SpikingModel, build_model
from snnsec.models import sequential as _sequential  # noqa: F401  (registers the "sequential" architecture)
from snnsec.neurons import NEURONS, NeuronParameters

FORMAT = "snnsec-nir"
FORMAT_VERSION = 1
CONVENTIONS = ("nir", "norse")
SUPPORTED_NODES = ("Input", "Output", "Conv2d", "Affine", "Linear", "AvgPool2d", "SumPool2d", "Flatten", "Scale",
                   "IF", "LIF", "CubaLIF")
LIF_CONVENTION = "LIF: tau = 1/(1-lambda), r = tau, v_leak = 0, forward Euler with dt = 1 (IF: r = 1); v_reset = 0"
TIE_NOTE = "NIR fires on v > theta, snnsec on u >= theta: they differ only when a membrane equals theta exactly"


def _nir() -> Any:
    import nir

    return nir


# -- export ---------------------------------------------------------------------------------------


def _ungrouped(weight: np.ndarray, groups: int) -> np.ndarray:
    """A grouped conv weight as the equal ungrouped one (block diagonal; the added taps are 0).

    nir 1.0.8's type inference reads a conv's input channels from ``weight.shape[1]`` and ignores
    ``groups``, so a depthwise conv would fail ``nir.read``. The extra products are exact zeros.
    """
    if groups == 1:
        return weight
    out_c, in_per_group = weight.shape[:2]
    per_out = out_c // groups
    full = np.zeros((out_c, in_per_group * groups, *weight.shape[2:]), dtype=weight.dtype)
    for g in range(groups):
        full[g * per_out:(g + 1) * per_out, g * in_per_group:(g + 1) * in_per_group] = weight[g * per_out:(g + 1) * per_out]
    return full


def model_to_nir(model: SpikingModel) -> Any:
    """The NIR graph of ``model`` (eval mode), in float64; see the module docstring."""
    from snnsec.export.graph import INPUT, model_graph

    nir = _nir()
    graph = model_graph(model)
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array(graph.input_shape)})}
    edges: list[tuple[str, str]] = []
    source_node: dict[int, str] = {INPUT: "input"}
    shapes: dict[int, tuple[int, ...]] = {INPUT: tuple(graph.input_shape)}
    offset = np.asarray(graph.input_offset, dtype=np.float64)
    if not graph.input_spiking and np.any(offset != 0):
        C = graph.input_shape[0]
        if len(graph.input_shape) == 3:
            nodes["offset"] = nir.Conv2d(input_shape=tuple(graph.input_shape[1:]), weight=_ungrouped(np.ones((C, 1, 1, 1)), C),
                                         stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, bias=-offset)
        else:
            nodes["offset"] = nir.Affine(weight=np.eye(C), bias=-offset)
        edges.append(("input", "offset"))
        source_node[INPUT] = "offset"
    last = len(graph.populations) - 1
    for i, pop in enumerate(graph.populations):
        shapes[i] = tuple(pop.shape)
        if pop.relay:  # a Loihi delay line; in NIR's logical time the shortcut reads the source directly
            source_node[i] = source_node[pop.synapses[0].source]
            continue
        name = "readout" if i == last else f"layer{i}"
        targets = []
        for j, syn in enumerate(pop.synapses):
            src, src_shape = source_node[syn.source], shapes[syn.source]
            bias = np.asarray(pop.bias, dtype=np.float64) if j == 0 else np.zeros(len(pop.bias))
            sname = f"{name}.synapse{j}" if pop.neuron is not None or len(pop.synapses) > 1 else name
            if syn.kind == "conv":
                nodes[sname] = nir.Conv2d(input_shape=tuple(src_shape[1:]), weight=_ungrouped(syn.weight, syn.groups),
                                          stride=tuple(syn.stride), padding=tuple(syn.padding), dilation=(1, 1),
                                          groups=1, bias=bias)
            else:
                if syn.flatten:
                    fname = f"{sname}.flatten"
                    nodes[fname] = nir.Flatten(input_type={"input": np.array(src_shape)}, start_dim=0, end_dim=-1)
                    edges.append((src, fname))
                    src = fname
                nodes[sname] = nir.Affine(weight=syn.weight, bias=bias)
            edges.append((src, sname))
            targets.append(sname)
        if pop.neuron is None:
            edges += [(t, "output") for t in targets]
        else:
            nodes[name] = pop.neuron.to_nir(tuple(pop.shape), pop.name)  # the neuron owns its NIR form
            edges += [(t, name) for t in targets]
            source_node[i] = name
    nodes["output"] = nir.Output(output_type={"output": np.array(graph.readout.shape)})
    meta = model.meta
    info = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "T": int(model.T), "dt": 1.0, "encoder": meta.encoder,
        "input": model.encoder.description,
        "readout": "logits = mean over the T steps of the output node",
        "neurons": LIF_CONVENTION, "firing": TIE_NOTE, "arch": meta.arch, "num_classes": meta.num_classes,
        "input_shape": list(meta.input_shape), "dataset": meta.dataset, "class_names": meta.class_names,
        "normalization": "folded: offset node subtracts the mean, 1/std is in the first weights",
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"snnsec": json.dumps(info)}, type_check=False)


def export_nir(model: SpikingModel, path: str | os.PathLike[str], **options: Any) -> dict[str, Any]:
    """Write ``model`` as a NIR file (HDF5 through ``nir.write``); returns a summary for the CLI."""
    from snnsec.utils.io import atomic_write

    if options:
        raise InputError(f"the nir exporter takes no options, got {sorted(options)}")
    graph = model_to_nir(model)
    with atomic_write(path, "w+b") as fh:
        _nir().write(fh, graph)
    kinds: dict[str, int] = {}
    for node in graph.nodes.values():
        kinds[type(node).__name__] = kinds.get(type(node).__name__, 0) + 1
    return {"format": "nir", "out": str(path), "T": int(model.T), "nodes": len(graph.nodes), "edges": len(graph.edges),
            "node_types": kinds, "neurons": LIF_CONVENTION, "firing": TIE_NOTE,
            "readout": "logits = mean over the T steps of the output node",
            "summary": f"{len(graph.nodes)} NIR nodes ({', '.join(f'{n} {k}' for k, n in kinds.items())}), T={int(model.T)}; "
                       "logits = mean over T of the output node; " + LIF_CONVENTION}


# -- import ---------------------------------------------------------------------------------------


def read_graph(path: str | os.PathLike[str]) -> Any:
    """``nir.read`` with one-line errors (a NIR file is HDF5: no pickles are involved)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"NIR file not found: {path}")
    try:
        return _nir().read(path, type_check=False)
    except (OSError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"cannot read {path} as a NIR graph ({type(exc).__name__}: {exc})") from None


def snnsec_metadata(graph: Any) -> dict[str, Any]:
    """The ``snnsec`` metadata that :func:`export_nir` writes, or ``{}``."""
    raw = (getattr(graph, "metadata", None) or {}).get("snnsec")
    if raw is None:
        return {}
    if isinstance(raw, bytes):
        raw = raw.decode()
    try:
        info = json.loads(str(raw))
    except json.JSONDecodeError:
        raise InputError("the graph's 'snnsec' metadata is not valid JSON") from None
    return info if isinstance(info, dict) else {}


def _chain(graph: Any) -> list[str]:
    """Node names from the input to the output; refuses branches, merges and cycles."""
    nodes, edges = graph.nodes, [tuple(e) for e in graph.edges]
    for name, node in nodes.items():
        kind = type(node).__name__
        if kind not in SUPPORTED_NODES:
            raise InputError(f"node {name!r} has type {kind}, which snnsec cannot import; supported: {', '.join(SUPPORTED_NODES)}")
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    pred: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        if a not in nodes or b not in nodes:
            raise InputError(f"edge {a!r} -> {b!r} names a node that is not in the graph")
        succ[a].append(b)
        pred[b].append(a)
    inputs = [n for n, v in nodes.items() if type(v).__name__ == "Input"]
    if len(inputs) != 1:
        raise InputError(f"the graph must have exactly one Input node, found {len(inputs)}")
    order, name = [], inputs[0]
    while True:
        order.append(name)
        if type(nodes[name]).__name__ == "Output":
            break
        if len(succ[name]) != 1:
            raise InputError(
                f"node {name!r} ({type(nodes[name]).__name__}) feeds {len(succ[name])} nodes; "
                "snnsec imports chains only (no branches or residual connections)"
            )
        name = succ[name][0]
        if len(pred[name]) != 1:
            raise InputError(f"node {name!r} ({type(nodes[name]).__name__}) has {len(pred[name])} inputs; snnsec imports chains only")
        if name in order:
            raise InputError(f"node {name!r} closes a cycle; snnsec imports feed-forward chains only")
    unused = sorted(set(nodes) - set(order))
    if unused:
        raise InputError(f"node {unused[0]!r} ({type(nodes[unused[0]]).__name__}) is not on the input-output chain")
    return order


def _ints(v: Any, n: int = 2) -> list[int]:
    arr = np.atleast_1d(np.asarray(v)).astype(np.int64).tolist()
    return arr * n if len(arr) == 1 else arr


def _shape_of(node: Any, key: str) -> list[int] | None:
    types = node.input_type if key == "input" else node.output_type
    value = (types or {}).get(key)
    if value is None:
        return None
    arr = np.asarray(value)
    return [int(v) for v in arr.reshape(-1)] if arr.size else None


class _Layers:
    """Accumulates the ``sequential`` layer list and its tensors while walking the chain."""

    def __init__(self, shape: list[int]) -> None:
        self.shape = list(shape)  # one sample at the current point of the chain
        self.specs: list[dict[str, Any]] = []
        self.tensors: list[dict[str, torch.Tensor]] = []

    def add(self, spec: dict[str, Any], tensors: dict[str, torch.Tensor] | None = None,
            out_shape: list[int] | None = None) -> None:
        self.specs.append(spec)
        self.tensors.append(tensors or {})
        if out_shape is not None:
            self.shape = out_shape

    def fold_into_last(self, name: str, kind: str, gain: float, current: float) -> None:
        """Scale the last weight layer by ``gain`` and add ``current`` to its bias (neuron input)."""
        if gain == 1.0 and current == 0.0:
            return
        last = self.specs[-1] if self.specs else None
        if last is not None and last["type"] in ("conv2d", "linear"):
            t = self.tensors[-1]
            t["weight"] = t["weight"] * gain
            bias = t.get("bias", torch.zeros(t["weight"].shape[0], dtype=torch.float64))
            t["bias"] = bias * gain + current
            last["bias"] = True
            return
        if last is not None and last["type"] == "scale" and current == 0.0:
            self.tensors[-1]["scale"] = self.tensors[-1]["scale"] * gain
            return
        if current != 0.0:
            raise InputError(
                f"node {name!r} ({kind}): its leak voltage needs a constant input current, but no weight layer "
                "precedes it to carry that bias"
            )
        self.add({"type": "scale", "shape": list(self.shape)}, {"scale": torch.full(self.shape, gain, dtype=torch.float64)})


def _conv_out(shape: list[int], out: int, k: list[int], s: list[int], p: list[int], d: list[int]) -> list[int]:
    h = (shape[1] + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    w = (shape[2] + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    return [out, h, w]


def nir_layers(graph: Any, sample_shape: list[int], dt: float, convention: str) -> _Layers:
    """Map a NIR chain onto snnsec layer specs and float64 tensors."""
    nodes = graph.nodes
    if len(sample_shape) == 1:  # a flat input enters as [1, 1, N] (snnsec's encoders take images)
        layers = _Layers([1, 1, sample_shape[0]])
        layers.add({"type": "flatten", "start_dim": 1, "end_dim": -1}, None, list(sample_shape))
    else:
        layers = _Layers(sample_shape)
    for name in _chain(graph)[1:-1]:
        node = nodes[name]
        kind = type(node).__name__
        shape = layers.shape
        if kind == "Conv2d":
            w = torch.as_tensor(np.asarray(node.weight), dtype=torch.float64)
            if w.dim() != 4 or len(shape) != 3:
                raise InputError(f"node {name!r} (Conv2d): weight {list(w.shape)} on input {shape}; expected a 2-D conv on [C, H, W]")
            groups = int(node.groups)
            if w.shape[1] * groups != shape[0]:
                raise InputError(f"node {name!r} (Conv2d): weight reads {w.shape[1] * groups} channels but its input has {shape[0]}")
            k, s, d = list(w.shape[2:]), _ints(node.stride), _ints(node.dilation)
            if isinstance(node.padding, str):
                if node.padding == "valid":
                    p = [0, 0]
                elif node.padding == "same" and all(v % 2 == 1 for v in k) and s == [1, 1]:
                    p = [d[0] * (k[0] - 1) // 2, d[1] * (k[1] - 1) // 2]
                else:
                    raise InputError(f"node {name!r} (Conv2d): padding {node.padding!r} with kernel {k}, stride {s} has no symmetric form")
            else:
                p = _ints(node.padding)
            bias = np.asarray(node.bias, dtype=np.float64) if node.bias is not None else np.zeros(1)
            tensors = {"weight": w}
            if np.any(bias != 0):
                tensors["bias"] = torch.as_tensor(np.broadcast_to(bias, (w.shape[0],)).copy())
            layers.add({"type": "conv2d", "in": shape[0], "out": int(w.shape[0]), "kernel": k, "stride": s, "padding": p,
                        "dilation": d, "groups": groups, "bias": "bias" in tensors}, tensors,
                       _conv_out(shape, int(w.shape[0]), k, s, p, d))
        elif kind in ("Affine", "Linear"):
            w = torch.as_tensor(np.asarray(node.weight), dtype=torch.float64)
            if len(shape) != 1:
                raise InputError(f"node {name!r} ({kind}) reads a {shape} map; a Flatten node must precede it")
            if w.dim() != 2 or w.shape[1] != shape[0]:
                raise InputError(f"node {name!r} ({kind}): weight {list(w.shape)} does not read {shape[0]} inputs")
            tensors = {"weight": w}
            if kind == "Affine":
                tensors["bias"] = torch.as_tensor(np.broadcast_to(np.asarray(node.bias, dtype=np.float64), (w.shape[0],)).copy())
            layers.add({"type": "linear", "in": int(w.shape[1]), "out": int(w.shape[0]), "bias": kind == "Affine"},
                       tensors, [int(w.shape[0])])
        elif kind in ("AvgPool2d", "SumPool2d"):
            if len(shape) != 3:
                raise InputError(f"node {name!r} ({kind}) on a flat input {shape}")
            k, s, p = _ints(node.kernel_size), _ints(node.stride), _ints(node.padding)
            if any(p) and kind == "SumPool2d":
                raise InputError(f"node {name!r} (SumPool2d): padding {p} is not supported")
            layers.add({"type": "avgpool2d", "kernel": k, "stride": s, "padding": p}, None,
                       _conv_out(shape, shape[0], k, s, p, [1, 1]))
            if kind == "SumPool2d":
                layers.add({"type": "scale", "shape": list(layers.shape)},
                           {"scale": torch.full(layers.shape, float(k[0] * k[1]), dtype=torch.float64)})
        elif kind == "Flatten":
            declared = _shape_of(node, "input")
            offset = 0 if declared is not None and len(declared) == len(shape) + 1 else 1  # batched or not
            start, end = int(node.start_dim), int(node.end_dim)
            start_b = start + offset if start >= 0 else start
            end_b = end + offset if end >= 0 else end
            full = [1, *shape]
            a, b = start_b % len(full), end_b % len(full)
            if a == 0:
                raise InputError(f"node {name!r} (Flatten): start_dim {start} would flatten the batch dimension")
            out = full[:a] + [int(np.prod(full[a:b + 1]))] + full[b + 1:]
            end_spec = -1 if b == len(full) - 1 else b  # torch's Flatten() form where it flattens to the end
            layers.add({"type": "flatten", "start_dim": a, "end_dim": end_spec}, None, out[1:])
        elif kind == "Scale":
            scale = np.asarray(node.scale, dtype=np.float64)
            try:
                full = np.broadcast_to(scale, shape).copy()
            except ValueError:
                raise InputError(f"node {name!r} (Scale): scale {list(scale.shape)} does not fit its input {shape}") from None
            if layers.specs and layers.specs[-1]["type"] == "scale":  # e.g. after a SumPool2d: one gain
                layers.tensors[-1]["scale"] = layers.tensors[-1]["scale"] * torch.as_tensor(full)
            else:
                layers.add({"type": "scale", "shape": list(shape)}, {"scale": torch.as_tensor(full)})
        elif kind in ("IF", "LIF", "CubaLIF"):
            # NIR neurons reset to v_reset (= 0 here): snnsec's hard-reset type maps them
            p, gain, current = NEURONS["hard"].from_nir(name, node, dt, convention)
            layers.fold_into_last(name, kind, gain, current)
            layers.add({"type": "lif", "neuron": p._asdict()})
        else:  # Input/Output inside the chain
            raise InputError(f"node {name!r} ({kind}) cannot sit inside the chain")
    if not layers.specs or layers.specs[-1]["type"] == "lif":
        raise InputError("the graph must end with a weight layer (the readout); its output spikes are not logits")
    if len(layers.shape) != 1:
        raise InputError(f"the graph's output is a {layers.shape} map; snnsec needs a vector of class scores")
    return layers


def _sample_shape(graph: Any, input_shape: list[int] | None, encoder: str) -> list[int]:
    """One time step of input, ``[C, H, W]`` or ``[N]`` (a leading batch of 1 is dropped)."""
    if input_shape is not None:
        return list(ENCODERS[encoder].step_shape(input_shape))
    name = next(n for n, v in graph.nodes.items() if type(v).__name__ == "Input")
    shape = _shape_of(graph.nodes[name], "input")
    if not shape:
        raise InputError(f"the Input node {name!r} declares no shape; pass --input-shape")
    first = _chain(graph)[1]
    flat_first = type(graph.nodes[first]).__name__ in ("Affine", "Linear")
    if (flat_first and len(shape) == 2) or (not flat_first and len(shape) == 4):
        shape = shape[1:]  # traced with a batch of one (nirtorch)
    return shape


def load_nir(
    source: str | os.PathLike[str] | Any,
    T: int | None = None,
    dt: float | None = None,
    encoder: str | None = None,
    input_shape: list[int] | None = None,
    dataset: str | None = None,
    convention: str = "nir",
    class_names: list[str] | None = None,
) -> SpikingModel:
    """A NIR graph (file or ``nir.NIRGraph``) as an eval-mode :class:`SpikingModel` (float32).

    Args:
        T: time steps per sample (default: the file's snnsec metadata; required otherwise).
        dt: forward-Euler step for LIF/CubaLIF (default: the metadata's, else 1.0).
        encoder: ``direct`` (analog input repeated each step; default), ``poisson`` or ``frames``.
        input_shape: one sample as the model sees it (default: the Input node's shape).
        convention: ``nir`` (the standard) or ``norse`` (files from Norse 1.1's ``to_nir``).
    """
    if convention not in CONVENTIONS:
        raise unknown_choice("NIR convention", convention, CONVENTIONS)
    graph = read_graph(source) if isinstance(source, (str, os.PathLike)) else source
    info = snnsec_metadata(graph)
    T = int(T if T is not None else info.get("T", 0)) or None
    if T is None:
        raise InputError("the NIR file does not record T (snnsec metadata); pass --T, the time steps per sample")
    dt = float(dt if dt is not None else info.get("dt", 1.0))
    if not dt > 0:
        raise InputError(f"dt must be positive, got {dt}")
    encoder = encoder or info.get("encoder") or "direct"
    step_shape = _sample_shape(graph, input_shape, encoder)
    layers = nir_layers(graph, step_shape, dt, convention)
    if len(step_shape) == 1:
        step_shape = [1, 1, step_shape[0]]
    shape = ENCODERS[encoder].sample_shape(step_shape, T)
    if input_shape is not None:
        ENCODERS[encoder].check_input_shape(input_shape, T)
    first_neuron = next((s["neuron"] for s in layers.specs if s["type"] == "lif"), NeuronParameters()._asdict())
    origin = str(source) if isinstance(source, (str, os.PathLike)) else "NIRGraph"
    model = build_model(
        "sequential", num_classes=layers.shape[0], input_shape=shape, T=T, neuron=NeuronParameters(**first_neuron),
        encoder=encoder, layers=layers.specs, dataset=dataset or info.get("dataset"),
        class_names=class_names or info.get("class_names"),
        recipe={"imported_from": "nir", "source": origin, "dt": dt, "convention": convention},
    )
    state = {}
    for i, tensors in enumerate(layers.tensors):
        for key, value in tensors.items():
            state[f"body.{i}.{key}"] = value.to(torch.float32)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith(("num_batches_tracked",))]
    if missing or unexpected:
        raise InputError(f"internal: NIR tensors do not fit the layer list (missing {missing[:2]}, unexpected {unexpected[:2]})")
    return model.eval()
