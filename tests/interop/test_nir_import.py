"""NIR files written by Norse's and snnTorch's own exporters import into snnsec and give the same
outputs as their framework's forward pass; the imported models can be attacked (rga-pgd) and
deployed (lava-sim). Unsupported graphs are refused in one line naming the node."""

from __future__ import annotations

import numpy as np
import nir
import pytest
import torch

import snnsec
from snnsec.attacks import AttackSpec
from snnsec.errors import InputError
from snnsec.interop.nir import load_nir
from snnsec.models import load_model, save_model
from snnsec.neurons import LIF

T = 6


def norse_model_and_file(tmp_path):
    """Norse 1.1: Conv2d (with bias) -> LIFBoxCell -> Flatten -> Linear, exported with its to_nir.

    Two fix-ups are needed to write what Norse 1.1 returns with nir 1.0.8's ``nir.write``: Norse
    maps no ``nn.Flatten`` (it leaves a ``None`` node, which we replace by ``nir.Flatten`` over the
    unbatched map) and leaves the conv's ``input_shape`` unset; its 0-d parameters also need
    ``compression=None``. Everything else is Norse's own output.
    """
    import norse.torch as norse
    from norse.torch.utils.export_nir import to_nir

    torch.manual_seed(0)
    net = norse.SequentialState(torch.nn.Conv2d(1, 4, 3, bias=True), norse.LIFBoxCell(), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 6 * 6, 3))
    with torch.no_grad():
        net[0].weight.mul_(12)  # LIFBox integrates 10 % of its input per step: make it fire
        net[3].weight.mul_(4)
    graph = to_nir(net, torch.rand(1, 1, 8, 8))
    assert graph.nodes["2"] is None  # Norse's unmapped Flatten
    graph.nodes["2"] = nir.Flatten(input_type={"input": np.array([4, 6, 6])}, start_dim=0, end_dim=-1)
    graph.nodes["0"].input_shape = np.array([8, 8])
    path = tmp_path / "norse.nir"
    nir.write(path, graph, compression=None)
    return net, path


def norse_forward(net, x: torch.Tensor) -> torch.Tensor:
    state, outs = None, []
    with torch.no_grad():
        for _ in range(T):
            out, state = net(x, state)
            outs.append(out)
    return torch.stack(outs).mean(0)


def snntorch_model_and_file(tmp_path):
    """snnTorch 1.0: Linear -> Leaky (reset to zero, no reset delay) -> Linear, via export_to_nir.

    snnTorch's exporter needs per-neuron beta and threshold tensors and an unbatched sample for
    nir 1.0.8's type inference; its conv export fails there (padding type), so this model is dense.
    """
    import snntorch as snn
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(1)
    lif = snn.Leaky(beta=torch.full((16,), 0.8), threshold=torch.ones(16), init_hidden=True,
                    reset_mechanism="zero", reset_delay=False)
    net = torch.nn.Sequential(torch.nn.Linear(20, 16), lif, torch.nn.Linear(16, 3))
    with torch.no_grad():
        net[0].weight.mul_(3)
    path = tmp_path / "snntorch.nir"
    nir.write(path, export_to_nir(net, torch.rand(20)))
    return net, path


def snntorch_forward(net, x: torch.Tensor) -> torch.Tensor:
    from snntorch import utils

    utils.reset(net)
    with torch.no_grad():
        return torch.stack([net(x) for _ in range(T)]).mean(0)


def fires(model) -> None:
    rates = []
    hooks = [m.register_forward_hook(lambda mod, i, o: rates.append(float(o[0].mean()))) for m in model.modules()
             if isinstance(m, LIF)]
    return hooks, rates


def test_norse_file_imports_and_matches_norse(tmp_path) -> None:
    net, path = norse_model_and_file(tmp_path)
    model = load_nir(path, T=T, dt=1e-3, convention="norse")
    assert model.meta.input_shape == [1, 8, 8]
    assert [type(m).__name__ for m in model.body] == ["Conv2d", "LIF", "Flatten", "Linear"]
    assert abs(model.neurons()[0].p.leak - 0.9) < 1e-6  # Norse: dt * tau_mem_inv = 1e-3 * 100
    x = torch.rand(16, 1, 8, 8)
    hooks, rates = fires(model)
    with torch.no_grad():
        got = model(x)
    for h in hooks:
        h.remove()
    assert 0.0 < rates[0] < 1.0, rates
    torch.testing.assert_close(got, norse_forward(net, x), rtol=0, atol=1e-5)


def test_snntorch_file_imports_and_matches_snntorch(tmp_path) -> None:
    net, path = snntorch_model_and_file(tmp_path)
    model = load_nir(path, T=T, dt=1e-4)  # snnTorch writes tau = dt/(1-beta), r = tau/dt with dt = 1e-4
    assert abs(model.neurons()[0].p.leak - 0.8) < 1e-6
    x = torch.rand(16, 20)
    hooks, rates = fires(model)
    with torch.no_grad():
        got = model(x.view(16, 1, 1, 20))
    for h in hooks:
        h.remove()
    assert 0.0 < rates[0] < 1.0, rates
    torch.testing.assert_close(got, snntorch_forward(net, x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("which", ["norse", "snntorch"])
def test_imported_models_can_be_attacked_with_rga_pgd(tmp_path, which: str) -> None:
    if which == "norse":
        _, path = norse_model_and_file(tmp_path)
        model = load_nir(path, T=T, dt=1e-3, convention="norse")
    else:
        _, path = snntorch_model_and_file(tmp_path)
        model = load_nir(path, T=T, dt=1e-4)
    model = load_model(save_model(model, tmp_path / "m.pt"))  # and survives a model file round trip
    x = torch.rand(16, *model.meta.input_shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        y = model(x).argmax(1)
    attack = AttackSpec(attack="rga-pgd", eps="0.2", alpha="0.05", steps=5).build()
    x_adv = attack(model, x, y, torch.Generator().manual_seed(0))
    assert float((x_adv - x).abs().max()) <= 0.2 + 1e-6
    with torch.no_grad():
        flipped = int((model(x_adv).argmax(1) != y).sum())
    assert flipped > 0, "rga-pgd changed no prediction of the imported model"


@pytest.mark.lava
@pytest.mark.parametrize("which", ["norse", "snntorch"])
def test_imported_models_deploy_to_lava_sim(tmp_path, which: str) -> None:
    from snnsec.backends import get_backend

    gen = torch.Generator().manual_seed(3)
    if which == "norse":
        net, path = norse_model_and_file(tmp_path)
        model = snnsec.load_model(path, T=T, dt=1e-3, convention="norse")
        x = torch.rand(6, 1, 8, 8, generator=gen)
        want = norse_forward(net, x)
    else:
        net, path = snntorch_model_and_file(tmp_path)
        model = snnsec.load_model(path, T=T, dt=1e-4)
        x = torch.rand(6, 1, 1, 20, generator=gen)
        want = snntorch_forward(net, x.view(6, 20))
    pred = get_backend("lava-sim", model, precision="float").predict(x)
    np.testing.assert_allclose(pred.scores / T, want.numpy(), rtol=0, atol=1e-4)
    assert (pred.labels == want.argmax(1).numpy()).all()


# -- refusals ------------------------------------------------------------------------------------


def _graph(*nodes, edges=None):
    names = [f"n{i}" for i in range(len(nodes))]
    edges = edges or [(names[i], names[i + 1]) for i in range(len(nodes) - 1)]
    return nir.NIRGraph(nodes=dict(zip(names, nodes)), edges=edges, type_check=False)


def _inp(n):
    return nir.Input(input_type={"input": np.array([n])})


def _out(n):
    return nir.Output(output_type={"output": np.array([n])})


def test_unsupported_node_is_named_with_its_type() -> None:
    g = _graph(_inp(4), nir.LI(tau=np.ones(4), r=np.ones(4), v_leak=np.zeros(4)), _out(4))
    with pytest.raises(InputError, match=r"node 'n1' has type LI, which snnsec cannot import; supported: ") as err:
        load_nir(g, T=2)
    assert "\n" not in str(err.value)


def test_branches_and_per_neuron_parameters_are_refused() -> None:
    a = nir.Affine(weight=np.eye(4), bias=np.zeros(4))
    g = _graph(_inp(4), a, nir.Affine(weight=np.eye(4), bias=np.zeros(4)), _out(4),
               edges=[("n0", "n1"), ("n1", "n2"), ("n1", "n3"), ("n2", "n3")])
    with pytest.raises(InputError, match=r"node 'n1' \(Affine\) feeds 2 nodes; snnsec imports chains only"):
        load_nir(g, T=2)
    lif = nir.LIF(tau=np.array([2.0, 2, 2, 3]), r=np.ones(4), v_leak=np.zeros(4), v_threshold=np.ones(4))
    g = _graph(_inp(4), a, lif, nir.Affine(weight=np.eye(2, 4), bias=np.zeros(2)), _out(2))
    with pytest.raises(InputError, match=r"node 'n2' \(LIF\): tau differs between neurons \(2..3\)"):
        load_nir(g, T=2)


def test_cubalif_without_synaptic_memory_maps_and_with_memory_is_refused() -> None:
    a = nir.Affine(weight=np.eye(4) * 2, bias=np.zeros(4))
    readout = nir.Affine(weight=np.ones((2, 4)), bias=np.zeros(2))

    def cuba(tau_syn):
        return nir.CubaLIF(tau_syn=np.full(4, tau_syn), tau_mem=np.full(4, 4.0), r=np.full(4, 4.0), v_leak=np.zeros(4),
                           v_threshold=np.ones(4), w_in=np.ones(4))

    model = load_nir(_graph(_inp(4), a, cuba(1.0), readout, _out(2)), T=3, dt=1.0)
    assert model.neurons()[0].p.leak == 0.75
    torch.testing.assert_close(model.body[1].weight, torch.eye(4) * 2)  # gain (dt/tau) * r * w_in = 1
    with pytest.raises(InputError, match=r"node 'n2' \(CubaLIF\): its synaptic current has memory \(dt/tau_syn = 0.5\)"):
        load_nir(_graph(_inp(4), a, cuba(2.0), readout, _out(2)), T=3, dt=1.0)


def test_missing_T_and_a_bad_file_are_one_line_errors(tmp_path) -> None:
    _, path = snntorch_model_and_file(tmp_path)
    with pytest.raises(InputError, match="does not record T .* pass --T"):
        load_nir(path)
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(InputError, match=r"cannot read .*bad.nir as a NIR graph"):
        load_nir(bad, T=2)


def test_hand_built_graph_with_every_mapped_node_equals_the_interpreter() -> None:
    """Conv2d -> IF -> SumPool2d -> Scale -> LIF -> AvgPool2d -> Flatten -> Linear -> CubaLIF -> Affine."""
    from tests.interop import nir_interpreter

    rng = np.random.default_rng(0)
    C = 3
    nodes = {
        "in": nir.Input(input_type={"input": np.array([1, 8, 8])}),
        "conv": nir.Conv2d(input_shape=(8, 8), weight=rng.uniform(-0.8, 0.8, (C, 1, 3, 3)), stride=1, padding=1,
                           dilation=1, groups=1, bias=rng.uniform(0, 0.2, C)),
        "if": nir.IF(r=np.full((C, 8, 8), 1.5), v_threshold=np.full((C, 8, 8), 1.0)),
        "sum": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "scale": nir.Scale(scale=rng.uniform(0.2, 0.6, (C, 4, 4))),
        "lif": nir.LIF(tau=np.full((C, 4, 4), 4.0), r=np.full((C, 4, 4), 8.0), v_leak=np.zeros((C, 4, 4)),
                       v_threshold=np.full((C, 4, 4), 2.0)),
        "avg": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([C, 2, 2])}, start_dim=0, end_dim=-1),
        "lin": nir.Linear(weight=rng.uniform(-1, 1, (6, C * 4))),
        "cuba": nir.CubaLIF(tau_syn=np.full(6, 2.0), tau_mem=np.full(6, 8.0), r=np.full(6, 4.0), v_leak=np.full(6, 0.1),
                            v_threshold=np.ones(6), w_in=np.full(6, 1.5)),
        "out_aff": nir.Affine(weight=rng.uniform(-1, 1, (4, 6)), bias=rng.uniform(-0.1, 0.1, 4)),
        "out": nir.Output(output_type={"output": np.array([4])}),
    }
    order = list(nodes)
    graph = nir.NIRGraph(nodes=nodes, edges=list(zip(order[:-1], order[1:])), type_check=False)
    T, dt = 5, 2.0  # CubaLIF maps because dt = tau_syn; LIF leak 1 - dt/tau = 0.5
    model = load_nir(graph, T=T, dt=dt)
    assert [type(m).__name__ for m in model.body] == [
        "Conv2d", "LIF", "AvgPool2d", "Scale", "LIF", "AvgPool2d", "Flatten", "Linear", "LIF", "Linear"]
    assert [n.p.leak for n in model.neurons()] == [1.0, 0.5, 0.75]
    x = torch.rand(8, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    # the interpreter integrates CubaLIF's synaptic current with dt = tau_syn: I = w_in * S each step
    cuba_free = dict(nodes)
    cuba_free["cuba"] = nir.LIF(tau=np.full(6, 8.0), r=np.full(6, 4.0 * 1.5), v_leak=np.full(6, 0.1),
                                v_threshold=np.ones(6))
    ref_graph = nir.NIRGraph(nodes=cuba_free, edges=graph.edges, type_check=False)
    want = nir_interpreter.run(ref_graph, x.unsqueeze(0).expand(T, *x.shape), dt=dt).mean(0)
    rates = []
    hooks = [m.register_forward_hook(lambda mod, i, o: rates.append(float(o[0].mean()))) for m in model.neurons()]
    with torch.no_grad():
        got = model.double()(x)
    for h in hooks:
        h.remove()
    assert all(0.0 < r < 1.0 for r in rates), rates
    # same spikes everywhere; the only differences are the float32 rounding of the imported weights
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
