"""Folding a model into populations is exact: the float graph equals the torch model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snnsec.backends.base import input_steps
from snnsec.errors import InputError
from snnsec.export.graph import conv_after_pool, dense_after_pool, model_graph
from snnsec.export.reference import simulate_float
from snnsec.models import build_model
from tests.lava.tiny_models import tiny_resnet, tiny_vgg


def _graph_input(model, steps):
    g = model_graph(model)
    off = 0.0 if g.input_spiking else g.input_offset.reshape(-1, 1, 1)
    return g, np.swapaxes(steps, 0, 1) - off


@pytest.mark.parametrize("kind", ["vgg-direct-normalised", "vgg-poisson-leaky-soft", "resnet-poisson-soft"])
def test_float_graph_equals_torch_model(kind):
    if kind == "vgg-direct-normalised":
        model = tiny_vgg(encoder="direct", T=4, seed=1, normalization={"mean": [0.3], "std": [0.2]})
        x = torch.rand(5, 1, 8, 8)
    elif kind == "vgg-poisson-leaky-soft":
        model = tiny_vgg(encoder="poisson", leak=0.6, reset="soft", T=5, seed=2)
        x = torch.rand(5, 1, 8, 8)
    else:
        model = tiny_resnet(encoder="poisson", leak=0.8, reset="soft", T=3, seed=3)
        x = torch.rand(4, 3, 8, 8)
    steps = input_steps(model, x, seed=0)
    graph, seq = _graph_input(model, steps)
    trace = simulate_float(graph, seq)
    with torch.no_grad():
        enc_seq = torch.from_numpy(steps).transpose(0, 1)
        if model.meta.encoder == "direct":
            enc_seq = model.encoder.normalise(enc_seq)
        logits, _ = model.run(enc_seq)
    np.testing.assert_allclose(trace.readout, logits.double().cumsum(0).numpy(), atol=1e-4)
    assert sum(float(s.sum()) for s in trace.spikes if s is not None) > 0


def test_pool_then_conv_equals_one_strided_conv():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 12, 12, dtype=torch.float64)
    w = torch.randn(5, 3, 3, 3, dtype=torch.float64)
    for stride, padding in [((1, 1), (1, 1)), ((2, 2), (1, 1)), ((1, 1), (0, 0))]:
        ref = F.conv2d(F.avg_pool2d(x, 2), w, stride=stride, padding=padding)
        w2, s2, p2 = conv_after_pool(w.numpy(), stride, padding, 2)
        got = F.conv2d(x, torch.from_numpy(w2), stride=s2, padding=p2)
        assert w2.shape == (5, 3, 6, 6) and s2 == (2 * stride[0],) * 2 and p2 == (2 * padding[0],) * 2
        torch.testing.assert_close(got, ref)


def test_pool_then_dense_equals_one_dense_even_when_the_pool_drops_a_row():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 7, 7, dtype=torch.float64)  # 7 -> 3: the last row and column are dropped
    w = torch.randn(6, 3 * 3 * 3, dtype=torch.float64)
    ref = F.linear(F.avg_pool2d(x, 2).flatten(1), w)
    got = F.linear(x.flatten(1), torch.from_numpy(dense_after_pool(w.numpy(), (3, 7, 7), 2)))
    torch.testing.assert_close(got, ref)


def test_pool_before_conv_on_an_odd_map_is_refused_with_the_shape():
    model = build_model("vgg5", num_classes=3, input_shape=(1, 10, 10), T=2, width=0.125).eval()  # 10 -> 5 -> conv
    with pytest.raises(InputError, match=r"odd map \(5, 5\)"):
        model_graph(model)


def test_unsupported_layer_is_named():
    model = tiny_vgg(T=2)
    model.body[1] = nn.ReLU()
    with pytest.raises(InputError, match="body.2: layer ReLU has no neuromorphic mapping"):
        model_graph(model)


def test_training_mode_is_refused():
    model = tiny_vgg(T=2).train()
    with pytest.raises(InputError, match="eval-mode"):
        model_graph(model)


def test_residual_shortcut_goes_through_a_relay_so_both_paths_have_equal_latency():
    graph = model_graph(tiny_resnet(T=2))
    by_name = {p.name: i for i, p in enumerate(graph.populations)}
    block = graph.populations[by_name["body.4.neuron"]]
    sources = [graph.populations[s.source] for s in block.synapses]
    assert [p.name for p in sources] == ["body.4.main.2", "body.4.relay"]
    assert sources[1].relay and sources[0].depth == sources[1].depth == block.depth - 1
    # stem 1 + 7 blocks x 2 + the readout (reference layout: FC -> BN1d -> FC with no neuron, one synapse)
    assert graph.latency == graph.readout.depth == 16
