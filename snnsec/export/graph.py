"""A trained :class:`~snnsec.models.SpikingModel` as a graph of neuron populations.

This is the hardware view of a model, shared by every exporter and Lava builder. Stateless torch
layers are folded into the synapses that feed each population of neurons:

- **BatchNorm** (eval mode) becomes a per-channel scale of the preceding weights plus a bias.
- **2x2 average pooling** is folded exactly. A pool followed by a ``k x k`` convolution with
  stride ``s`` and padding ``p`` equals one ``2k x 2k`` convolution with stride ``2s`` and padding
  ``2p`` whose kernel repeats each tap in a 2x2 block and divides it by 4 (the input height and
  width must be even, else the pool drops a row that the padding would not). A pool followed by
  flatten and a linear layer equals one linear layer on the unpooled map (weights repeated and
  divided by 4; rows and columns the pool drops get weight 0).
- **Direct input**: the encoder's ``1/std`` is folded into the first weights; the host subtracts
  ``mean`` and sends ``x - mean`` (so zero padding still means "normalised value 0").
- **Residual blocks** (``neuron(main(x) + shortcut(x))``) become one population fed by two
  synapses. The shortcut passes through a *relay* population (fires iff its input spiked) so both
  paths into the block neuron are two synapses long: on Loihi every synapse adds one step of delay.
- The last linear layer has no neuron: it becomes the *readout* population whose membrane
  accumulates the logits (``neuron is None``).

Weights stay in float64 and in torch layout; :mod:`snnsec.export.quantize` maps them to Loihi.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from snnsec.errors import InputError
from snnsec.models.base import SpikingModel
from snnsec.models.containers import ResidualBlock, SpikingSequential
from snnsec.neurons import LIF, NeuronModel

INPUT = -1
"""Source index of the network input."""


@dataclass
class Synapse:
    """A weighted connection into a population.

    Attributes:
        source: index of the source population, or :data:`INPUT`.
        kind: ``"conv"`` or ``"dense"``.
        weight: float64, torch layout: conv ``(out, in/groups, kh, kw)``, dense ``(out, in)``.
        stride, padding: conv only, ``(h, w)``.
        groups: conv groups.
        flatten: dense only: the source map ``(C, H, W)`` is flattened in torch's order.
    """

    source: int
    kind: str
    weight: np.ndarray
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    groups: int = 1
    flatten: bool = False


@dataclass
class Population:
    """A layer of neurons and the synapses whose currents add into it.

    Attributes:
        name: the torch module path of its neuron (or ``readout`` / ``<block>.relay``).
        shape: ``(C, H, W)`` or ``(C,)``.
        synapses: all connections into the population; their currents add up.
        bias: per-channel float current added every step, shape ``(C,)``.
        neuron: the layer's neuron model (:class:`~snnsec.neurons.NeuronModel`); ``None`` for the
            readout (never spikes) and relays.
        relay: a delay line: fires exactly when its single input spiked a step before.
        depth: synapses between the network input and this population (its latency in steps).
    """

    name: str
    shape: tuple[int, ...]
    synapses: list[Synapse]
    bias: np.ndarray
    neuron: NeuronModel | None
    relay: bool = False
    depth: int = 1

    @property
    def spiking(self) -> bool:
        return self.neuron is not None or self.relay


@dataclass
class SpikingGraph:
    """Populations in topological order; the last one is the readout.

    Attributes:
        input_shape: one time step of input, ``(C, H, W)`` or ``(C,)``.
        input_spiking: whether the input is binary spikes (Poisson, event frames) or graded
            analog values (direct encoding).
        input_offset: per-channel value the host subtracts from direct input (the encoder mean).
        T: time steps per sample.
        populations: the populations; ``populations[-1]`` is the readout.
        encoder: the model's encoder name.
    """

    input_shape: tuple[int, ...]
    input_spiking: bool
    input_offset: np.ndarray
    T: int
    populations: list[Population] = field(default_factory=list)
    encoder: str = "direct"

    @property
    def readout(self) -> Population:
        return self.populations[-1]

    @property
    def latency(self) -> int:
        """Steps from an input step to the readout integrating it (one per synapse)."""
        return self.readout.depth

    @property
    def is_chain(self) -> bool:
        """Whether every population reads only the one before it (what NetX can express)."""
        return all(
            len(p.synapses) == 1 and p.synapses[0].source == i - 1 and not p.relay
            for i, p in enumerate(self.populations)
        )


# --------------------------------------------------------------------------------------------
# folding helpers (pure functions on float64 arrays)


def fold_batchnorm(weight: np.ndarray, bias: np.ndarray, bn: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """``BN(W x + b)`` as ``W' x + b'`` with BN's running statistics (eval mode)."""
    if bn.running_mean is None or bn.running_var is None:
        raise InputError(f"cannot fold {bn}: it keeps no running statistics (track_running_stats=False)")
    scale = _np(bn.weight) / np.sqrt(_np(bn.running_var) + bn.eps) if bn.affine else 1.0 / np.sqrt(_np(bn.running_var) + bn.eps)
    shift = (_np(bn.bias) if bn.affine else 0.0) - _np(bn.running_mean) * scale
    shape = (-1,) + (1,) * (weight.ndim - 1)
    return weight * scale.reshape(shape), bias * scale + shift


def conv_after_pool(weight: np.ndarray, stride: tuple[int, int], padding: tuple[int, int], factor: int):
    """A ``factor x factor`` average pool (stride = factor) followed by a conv, as one conv."""
    w = weight.repeat(factor, axis=2).repeat(factor, axis=3) / float(factor * factor)
    return w, (stride[0] * factor, stride[1] * factor), (padding[0] * factor, padding[1] * factor)


def dense_after_pool(weight: np.ndarray, source_shape: tuple[int, int, int], factor: int) -> np.ndarray:
    """Pool then flatten then linear, as one linear layer on the unpooled ``(C, H, W)`` map."""
    C, H, W = source_shape
    Hp, Wp = H // factor, W // factor
    w = weight.reshape(weight.shape[0], C, Hp, Wp)
    w = w.repeat(factor, axis=2).repeat(factor, axis=3) / float(factor * factor)
    full = np.zeros((weight.shape[0], C, H, W))
    full[:, :, : Hp * factor, : Wp * factor] = w  # the pool drops trailing rows and columns
    return full.reshape(weight.shape[0], -1)


def pool_as_conv(channels: int, factor: int) -> Synapse:
    """A bare average pool as a depthwise conv (used on residual shortcuts)."""
    w = np.full((channels, 1, factor, factor), 1.0 / (factor * factor))
    return Synapse(INPUT, "conv", w, (factor, factor), (0, 0), groups=channels)


def identity_conv(channels: int) -> Synapse:
    return Synapse(INPUT, "conv", np.ones((channels, 1, 1, 1)), groups=channels)


def conv_output_shape(syn: Synapse, source_shape: tuple[int, ...]) -> tuple[int, int, int]:
    _, H, W = source_shape
    kh, kw = syn.weight.shape[2:]
    ho = (H + 2 * syn.padding[0] - kh) // syn.stride[0] + 1
    wo = (W + 2 * syn.padding[1] - kw) // syn.stride[1] + 1
    if ho < 1 or wo < 1:
        raise InputError(f"convolution {syn.weight.shape} does not fit input {source_shape}")
    return syn.weight.shape[0], ho, wo


def _np(t: torch.Tensor | None) -> np.ndarray:
    if t is None:
        raise InputError("missing tensor while folding")
    return t.detach().cpu().double().numpy()


# --------------------------------------------------------------------------------------------
# model -> graph


@dataclass
class _Signal:
    """What flows between layers: spikes of ``source`` with ``pool`` pending average pooling."""

    source: int
    shape: tuple[int, ...]
    pool: int = 1


class _Builder:
    def __init__(self, model: SpikingModel) -> None:
        self.model = model
        self.pops: list[Population] = []

    def shape_of(self, source: int) -> tuple[int, ...]:
        return self.graph_input_shape if source == INPUT else self.pops[source].shape

    def depth_of(self, source: int) -> int:
        return 0 if source == INPUT else self.pops[source].depth

    def add(self, name: str, synapses: list[Synapse], bias: np.ndarray, shape: tuple[int, ...],
            neuron: NeuronModel | None, relay: bool = False) -> _Signal:
        depths = {self.depth_of(s.source) for s in synapses}
        if len(depths) != 1:
            raise InputError(f"{name}: inputs arrive with different latencies {sorted(depths)}; "
                             "every path into a population must have the same number of synapses")
        self.pops.append(Population(name, shape, synapses, bias, neuron, relay, depths.pop() + 1))
        return _Signal(len(self.pops) - 1, shape)

    def affine(self, name: str, layers: list[nn.Module], sig: _Signal) -> tuple[Synapse, np.ndarray, tuple[int, ...]]:
        """Fold ``[AvgPool]* [Flatten] (Conv2d | Linear) [BatchNorm]* (Linear [BatchNorm]*)*`` read
        from ``sig``. Linear layers that follow with no neuron in between (the reference ResNet's
        ``FC -> BN1d -> FC`` head) compose into one linear map: ``W2 (W1 x + b1) + b2``."""
        pool, flatten, op, norms = sig.pool, False, None, []
        then: list[tuple[nn.Linear, list[nn.Module]]] = []
        for m in layers:
            if op is not None and isinstance(m, nn.Linear) and (isinstance(op, nn.Linear) or then):
                then.append((m, []))
                continue
            if then and isinstance(m, (nn.BatchNorm1d,)):
                then[-1][1].append(m)
                continue
            if then and not isinstance(m, (nn.Identity, nn.Dropout)):
                raise InputError(f"{name}: only Linear and BatchNorm1d may follow a linear layer without a neuron in between, got {m}")
            if isinstance(m, nn.AvgPool2d):
                if op is not None or flatten:
                    raise InputError(f"{name}: average pooling after {op or 'flatten'} without a neuron in between is not supported")
                pool *= _pool_factor(name, m)
            elif isinstance(m, nn.Flatten):
                if op is not None or m.start_dim != 1 or m.end_dim != -1:
                    raise InputError(f"{name}: only Flatten() directly before a linear layer is supported, got {m}")
                flatten = True
            elif isinstance(m, (nn.Conv2d, nn.Linear)):
                if op is not None:
                    raise InputError(f"{name}: two weight layers ({op.__class__.__name__}, {m.__class__.__name__}) without a neuron in between")
                op = m
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                if op is None:
                    raise InputError(f"{name}: BatchNorm before any weight layer cannot be folded")
                norms.append(m)
            elif isinstance(m, (nn.Identity, nn.Dropout)):
                continue
            else:
                raise InputError(f"{name}: layer {m.__class__.__name__} has no neuromorphic mapping; "
                                 "supported: Conv2d, Linear, BatchNorm1d/2d, AvgPool2d(2), Flatten, LIF")
        src_shape = self.shape_of(sig.source)
        if op is None:
            raise InputError(f"{name}: no weight layer before the neuron")
        if isinstance(op, nn.Conv2d):
            syn, out_shape = self._conv(name, op, sig.source, src_shape, pool)
        else:
            syn, out_shape = self._dense(name, op, sig.source, src_shape, pool, flatten)
        bias = _np(op.bias) if op.bias is not None else np.zeros(syn.weight.shape[0])
        for bn in norms:
            syn.weight, bias = fold_batchnorm(syn.weight, bias, bn)
        for lin, lin_norms in then:
            w2 = _np(lin.weight)
            if w2.shape[1] != syn.weight.shape[0]:
                raise InputError(f"{name}: linear layer expects {w2.shape[1]} inputs, the one before gives {syn.weight.shape[0]}")
            syn.weight, bias = w2 @ syn.weight, w2 @ bias + (_np(lin.bias) if lin.bias is not None else 0.0)
            for bn in lin_norms:
                syn.weight, bias = fold_batchnorm(syn.weight, bias, bn)
            out_shape = (w2.shape[0],)
        return syn, bias, out_shape

    def _conv(self, name: str, op: nn.Conv2d, source: int, src_shape: tuple[int, ...],
              pool: int) -> tuple[Synapse, tuple[int, ...]]:
        if len(src_shape) != 3:
            raise InputError(f"{name}: convolution on a flat input {src_shape}")
        if isinstance(op.padding, str) or op.padding_mode != "zeros" or tuple(op.dilation) != (1, 1):
            raise InputError(f"{name}: only zero-padded, undilated convolutions map to Loihi; got {op}")
        weight = self._input_scaled(_np(op.weight), source, axis=1)
        stride, padding = tuple(op.stride), tuple(op.padding)
        if pool > 1:
            if src_shape[1] % pool or src_shape[2] % pool:
                raise InputError(f"{name}: cannot fold a {pool}x{pool} pool into the next conv for an odd "
                                 f"map {src_shape[1:]}; the pool would drop a row the conv padding keeps")
            weight, stride, padding = conv_after_pool(weight, stride, padding, pool)  # type: ignore[arg-type]
        syn = Synapse(source, "conv", weight, stride, padding, op.groups)  # type: ignore[arg-type]
        return syn, conv_output_shape(syn, src_shape)

    def _dense(self, name: str, op: nn.Linear, source: int, src_shape: tuple[int, ...], pool: int,
               flatten: bool) -> tuple[Synapse, tuple[int, ...]]:
        weight = _np(op.weight)
        if len(src_shape) == 3:
            if not flatten:
                raise InputError(f"{name}: linear layer on a {src_shape} map needs a Flatten before it")
            if pool > 1:
                weight = dense_after_pool(weight, src_shape, pool)  # type: ignore[arg-type]
            if source == INPUT:
                weight = self._input_scaled(weight.reshape(weight.shape[0], *src_shape), source, axis=1).reshape(weight.shape[0], -1)
        elif pool > 1:
            raise InputError(f"{name}: average pooling of a flat vector")
        elif source == INPUT:
            weight = self._input_scaled(weight, source, axis=1)
        n_in = int(np.prod(src_shape))
        if weight.shape[1] != n_in:
            raise InputError(f"{name}: linear layer expects {weight.shape[1]} inputs, its source has {n_in}")
        return Synapse(source, "dense", weight, flatten=len(src_shape) == 3), (weight.shape[0],)

    def _input_scaled(self, weight: np.ndarray, source: int, axis: int) -> np.ndarray:
        """Fold the direct encoder's ``1/std`` into the first layer (per input channel)."""
        if source != INPUT or self.input_std is None:
            return weight
        std = self.input_std
        if len(std) == 1:
            return weight / std[0]
        if weight.shape[axis] != len(std):
            raise InputError(f"encoder std has {len(std)} channels but the first layer reads {weight.shape[axis]}")
        shape = [1] * weight.ndim
        shape[axis] = len(std)
        return weight / std.reshape(shape)

    def sequence(self, seq: SpikingSequential, sig: _Signal, prefix: str) -> tuple[_Signal, list[nn.Module], str]:
        """Walk a container; returns the signal and the stateless layers still pending at its end."""
        pending: list[nn.Module] = []
        for child_name, m in seq.named_children():
            name = f"{prefix}{child_name}"
            if isinstance(m, LIF):
                syn, bias, shape = self.affine(name, pending, sig)
                sig = self.add(name, [syn], bias, shape, m.neuron)
                pending = []
            elif isinstance(m, ResidualBlock):
                sig = self.residual(name, m, sig, pending)
                pending = []
            elif isinstance(m, SpikingSequential):
                raise InputError(f"{name}: nested sequences outside residual blocks are not supported")
            else:
                pending.append(m)
        return sig, pending, prefix

    def residual(self, name: str, block: ResidualBlock, sig: _Signal, pending: list[nn.Module]) -> _Signal:
        for m in pending:
            if not isinstance(m, (nn.AvgPool2d, nn.Identity, nn.Dropout)):
                raise InputError(f"{name}: only pooling may sit between a neuron and a residual block, got {m}")
            if isinstance(m, nn.AvgPool2d):
                sig = _Signal(sig.source, sig.shape, sig.pool * _pool_factor(name, m))
        if sig.source == INPUT:
            raise InputError(f"{name}: a residual block directly on the network input is not supported")
        if not isinstance(block.neuron, LIF):
            raise InputError(f"{name}: the block neuron must be an LIF layer")
        main_sig, main_rest, _ = self.sequence(block.main, sig, f"{name}.main.")
        if main_sig.source == sig.source:
            raise InputError(f"{name}: the main path needs a neuron before its last weight layer")
        main_syn, main_bias, shape = self.affine(f"{name}.main", main_rest, main_sig)
        # The shortcut is one synapse shorter than the main path: delay it by one relay step.
        src_shape = self.shape_of(sig.source)
        relay_syn = identity_conv(src_shape[0]) if len(src_shape) == 3 else Synapse(INPUT, "dense", np.eye(src_shape[0]))
        relay_syn.source = sig.source
        relay = self.add(f"{name}.relay", [relay_syn], np.zeros(src_shape[0]), src_shape, None, relay=True)
        relay = _Signal(relay.source, relay.shape, sig.pool)
        if len(block.shortcut):
            sc_syn, sc_bias, sc_shape = self.affine(f"{name}.shortcut", list(block.shortcut), relay)
        else:
            sc_bias, sc_shape = np.zeros(src_shape[0]), src_shape
            if sig.pool > 1:
                sc_syn = pool_as_conv(src_shape[0], sig.pool)
                sc_syn.source = relay.source
                sc_shape = conv_output_shape(sc_syn, src_shape)
            else:
                sc_syn = identity_conv(src_shape[0]) if len(src_shape) == 3 else Synapse(INPUT, "dense", np.eye(src_shape[0]))
                sc_syn.source = relay.source
        if tuple(sc_shape) != tuple(shape):
            raise InputError(f"{name}: main path gives {shape} but the shortcut gives {sc_shape}")
        return self.add(f"{name}.neuron", [main_syn, sc_syn], main_bias + sc_bias, shape, block.neuron.neuron)

    def build(self) -> SpikingGraph:
        model, meta = self.model, self.model.meta
        enc = model.encoder
        shape = enc.step_shape(meta.input_shape)
        self.graph_input_shape = shape
        spiking = bool(enc.spiking)
        self.input_std = None
        offset = np.zeros(shape[0])
        norm = enc.host_normalisation()
        if norm is not None:
            mean, std = norm
            self.input_std = None if np.all(std == 1.0) else std
            offset = np.broadcast_to(mean, (shape[0],)).copy()
        sig, rest, _ = self.sequence(model.body, _Signal(INPUT, shape), "body.")
        if not rest:
            raise InputError("the model must end with a readout layer (a Linear without a neuron after it)")
        syn, bias, out_shape = self.affine("readout", rest, sig)
        self.add("readout", [syn], bias, out_shape, None)
        return SpikingGraph(shape, spiking, offset, int(model.T), self.pops, meta.encoder)


def _pool_factor(name: str, m: nn.AvgPool2d) -> int:
    k, s = m.kernel_size, m.stride if m.stride is not None else m.kernel_size
    k = k if isinstance(k, int) else (k[0] if k[0] == k[1] else -1)
    s = s if isinstance(s, int) else (s[0] if s[0] == s[1] else -1)
    pad = m.padding if isinstance(m.padding, int) else max(m.padding)
    if k < 1 or k != s or pad != 0 or m.ceil_mode:
        raise InputError(f"{name}: only square average pools with stride = kernel and no padding fold exactly; got {m}")
    return int(k)


@torch.no_grad()
def model_graph(model: SpikingModel) -> SpikingGraph:
    """The folded population graph of ``model`` (float64, torch layouts).

    Raises :class:`~snnsec.errors.InputError` naming the layer that has no exact mapping.
    """
    if model.training:
        raise InputError("export needs an eval-mode model (BatchNorm running statistics); call model.eval()")
    return _Builder(model).build()
