"""`snnsec export --format nir`: the file reads back with nir.read and an independent interpreter
of the NIR equations gives torch's logits (float64: to rounding; float32: to 1e-5)."""

from __future__ import annotations

import copy
import json

import nir
import pytest
import torch
from torch import nn

from snnsec.cli.main import main
from snnsec.errors import InputError
from snnsec.interop.nir import export_nir, load_nir, model_to_nir
from snnsec.models import SpikingModel, build_model, save_model
from snnsec.neurons import LIF, NeuronParameters
from tests.interop import nir_interpreter


def firing(model: SpikingModel, seed: int) -> SpikingModel:
    """Random BatchNorm statistics so that every layer fires at a moderate rate (untrained)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.2, 0.2, generator=g)
            m.running_var.uniform_(0.3, 1.0, generator=g)
            m.weight.data.uniform_(1.0, 2.5, generator=g)
            m.bias.data.uniform_(0.1, 0.6, generator=g)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.weight.mul_(6)
    return model.eval()


def rates(model: SpikingModel, x: torch.Tensor) -> list[float]:
    out: list[float] = []
    hooks = [m.register_forward_hook(lambda mod, i, o: out.append(float(o[0].mean()))) for m in model.modules()
             if isinstance(m, LIF)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return out


def interpret(path, model: SpikingModel, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    graph = nir.read(path)
    steps = x.to(dtype).unsqueeze(0).expand(model.T, *x.shape)
    return nir_interpreter.run(graph, steps, dt=1.0, dtype=dtype).mean(0)


CASES = {
    # the demo's model: vgg5 on 1x28x28 digits, IF neurons, no normalisation
    "vgg5-if": dict(arch="vgg5", input_shape=(1, 28, 28), neuron=NeuronParameters(leak=1.0)),
    "vgg5-lif": dict(arch="vgg5", input_shape=(1, 28, 28), neuron=NeuronParameters(leak=0.8, theta=0.75)),
    # direct input with normalisation (offset node + folded 1/std), conv bias, 3x32x32
    "vgg11-norm": dict(arch="vgg11", input_shape=(3, 32, 32), width=0.0625, neuron=NeuronParameters(leak=0.9),
                       normalization={"mean": [0.4914, 0.4822, 0.4465], "std": [0.2023, 0.1994, 0.2010]}),
    # residual blocks: two synapse nodes into one neuron node; Linear -> BN1d -> Linear readout
    "resnet17": dict(arch="resnet17", input_shape=(3, 16, 16), width=0.125, neuron=NeuronParameters(leak=1.0)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_interpreted_nir_file_equals_torch(tmp_path, case: str) -> None:
    spec = dict(CASES[case])
    torch.manual_seed(0)
    model = firing(build_model(spec.pop("arch"), num_classes=10, T=4, **spec), seed=1)
    x = torch.rand(8, *model.meta.input_shape)
    r = rates(model, x)
    assert min(r) > 0.0 and max(r) < 1.0, f"layers must fire, got rates {r}"

    path = tmp_path / "m.nir"
    export_nir(model, path)
    # float64: the folded graph in exact-ish arithmetic equals the float64 torch model
    with torch.no_grad():
        want64 = copy.deepcopy(model).double()(x.double())
    got64 = interpret(path, model, x, torch.float64)
    torch.testing.assert_close(got64, want64, rtol=0, atol=1e-12)
    # float32: torch's own model against the interpreter in float32
    with torch.no_grad():
        want32 = model(x)
    got32 = interpret(path, model, x, torch.float32)
    torch.testing.assert_close(got32, want32, rtol=0, atol=1e-5)


def test_metadata_records_T_encoder_readout_and_convention(tmp_path) -> None:
    model = build_model("vgg5", num_classes=10, T=6, neuron=NeuronParameters(leak=0.5)).eval()
    export_nir(model, tmp_path / "m.nir")
    graph = nir.read(tmp_path / "m.nir")
    info = json.loads(graph.metadata["snnsec"] if isinstance(graph.metadata["snnsec"], str)
                      else graph.metadata["snnsec"].decode())
    assert info["T"] == 6 and info["encoder"] == "direct" and info["dt"] == 1.0
    assert "mean over the T steps" in info["readout"]
    assert "tau = 1/(1-lambda), r = tau" in info["neurons"] and "v > theta" in info["firing"]
    lif = [n for n in graph.nodes.values() if isinstance(n, nir.LIF)]
    assert lif and float(lif[0].tau.flat[0]) == 2.0 and float(lif[0].r.flat[0]) == 2.0


def test_soft_reset_is_refused_in_one_line(tmp_path) -> None:
    model = build_model("vgg5", num_classes=10, T=2, neuron=NeuronParameters(reset="soft")).eval()
    with pytest.raises(InputError, match="soft reset .* has no NIR form") as err:
        model_to_nir(model)
    assert "\n" not in str(err.value)


def test_cli_export_nir_and_import_back(tmp_path, capsys) -> None:
    torch.manual_seed(2)
    model = firing(build_model("vgg5", num_classes=10, T=3, neuron=NeuronParameters(leak=0.9)), seed=3)
    path = save_model(model, tmp_path / "m.pt")
    rc = main(["export", "--model", str(path), "--format", "nir", "--out", str(tmp_path / "m.nir"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["format"] == "nir" and out["node_types"]["LIF"] == 4
    rc = main(["export", "--model", str(path), "--format", "nir", "--out", str(tmp_path / "m2.nir")])
    assert rc == 0 and "NIR nodes" in capsys.readouterr().out
    # round trip: T and dt come from the metadata; the chain imports as a 'sequential' model
    back = load_nir(tmp_path / "m.nir")
    assert back.meta.arch == "sequential" and back.T == 3
    x = torch.rand(6, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(back(x), model(x), rtol=0, atol=1e-5)
    rc = main(["import", "--nir", str(tmp_path / "m.nir"), "--out", str(tmp_path / "back.pt"), "--json"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["arch"] == "sequential"
    import snnsec

    with torch.no_grad():
        torch.testing.assert_close(snnsec.load_model(tmp_path / "back.pt")(x), back(x), rtol=0, atol=0)
        torch.testing.assert_close(snnsec.load_model(str(tmp_path / "m.nir"))(x), back(x), rtol=0, atol=0)


@pytest.mark.parametrize("encoder", ["poisson", "frames"])
def test_round_trip_keeps_the_encoder(tmp_path, encoder: str) -> None:
    torch.manual_seed(5)
    shape = (3, 2, 16, 16) if encoder == "frames" else (1, 28, 28)
    arch = "vggdvs" if encoder == "frames" else "vgg5"
    model = firing(build_model(arch, num_classes=10, input_shape=shape, T=3, encoder=encoder, width=0.125,
                               neuron=NeuronParameters(leak=0.75)), seed=6)
    export_nir(model, tmp_path / "m.nir")
    back = load_nir(tmp_path / "m.nir")
    assert back.meta.encoder == encoder and back.meta.input_shape == list(shape) and back.T == 3
    x = (torch.rand(4, *shape) < 0.4).float()
    if encoder == "poisson":  # same Bernoulli draws on both sides
        model.encoder.reseed(7)
        back.encoder.reseed(7)
    with torch.no_grad():
        torch.testing.assert_close(back(x), model(x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", sorted(__import__("snnsec.neurons", fromlist=["NEURONS"]).NEURONS))
@pytest.mark.parametrize("leak", [1.0, 0.8])
def test_every_neuron_type_owns_its_nir_form(kind: str, leak: float) -> None:
    """A neuron type either maps to NIR and back to the same parameters, or says why it cannot."""
    from snnsec.neurons import NEURONS, neuron_model

    neuron = neuron_model(NeuronParameters(leak=leak, theta=0.75, reset=kind))
    problem = neuron.nir_problem()
    if problem is not None:
        with pytest.raises(InputError, match="has no NIR form") as err:
            neuron.to_nir((4,), "layer")
        assert "\n" not in str(err.value)
        return
    node = neuron.to_nir((4,), "layer")
    assert isinstance(node, nir.IF if leak == 1.0 else nir.LIF)
    p, gain, current = type(neuron).from_nir("n", node, dt=1.0)
    assert p.reset == kind and p.theta == 0.75 and current == 0.0
    assert p.leak == pytest.approx(leak, abs=1e-15) and gain == pytest.approx(1.0, abs=1e-15)
