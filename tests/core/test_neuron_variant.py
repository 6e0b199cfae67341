"""Adding a neuron type is one class plus one registry line: a variant defined only here trains,
is attacked with STBP and RGA, exports to ONNX and NetX, and runs on Lava bit for bit equal to
the integer reference, with no change anywhere else."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from norse.torch.functional.threshold import threshold

from snnsec.neurons import NEURONS, NeuronModel, NeuronParameters, register_neuron

pytestmark = [pytest.mark.slow, pytest.mark.lava]


class StrictThreshold(NeuronModel):
    """Fires when u exceeds theta (Loihi's own ``v > vth`` rule, no tie), then resets to 0."""

    name = "strict"
    summary = "hard reset, fires on u > theta (Loihi's native rule)"

    def fire(self, u: torch.Tensor) -> torch.Tensor:
        return threshold((u - self.p.theta) / self.p.gamma, "triangle", 1.0)

    def fires(self, u: torch.Tensor) -> torch.Tensor:
        return (u > self.p.theta).to(u.dtype)

    def reset(self, u: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return u * (1.0 - z)

    def fixed_reset(self, v: torch.Tensor, z: torch.Tensor, theta_v: int) -> torch.Tensor:
        return v * (1 - z)

    def vth_mant(self, theta_mant: int) -> int:
        return int(theta_mant)  # v > K << 6 is u > theta, exactly

    def lava_threshold(self) -> float:
        return float(self.p.theta)


@pytest.fixture()
def strict():
    register_neuron(StrictThreshold)  # the one registry line
    try:
        yield "strict"
    finally:
        NEURONS.pop("strict", None)


def test_variant_trains_attacks_exports_and_runs_bit_exact_on_lava(strict, tmp_path, mnist_test):
    from snnsec.attacks import AttackSpec
    from snnsec.backends.lava_sim import LavaSimBackend
    from snnsec.backends.onnx_backend import OnnxBackend
    from snnsec.backends.torch_backend import TorchBackend
    from snnsec.data import get_dataset
    from snnsec.data.base import sample_indices, stack_samples
    from snnsec.export import export
    from snnsec.export.reference import simulate_fixed
    from snnsec.models import build_model, load_model, save_model
    from snnsec.training import Recipe, train
    from snnsec.utils.seeding import seed_everything
    from tests.lava.tiny_models import on_grid, tiny_vgg, torch_spikes

    # trains (STBP through its own surrogate) and round-trips through a model file
    ds = get_dataset("mnist5k")
    train_set = torch.utils.data.Subset(ds.split("train"), range(0, 4000, 5))
    xt, yt = stack_samples(train_set, range(len(train_set)))
    seed_everything(0)
    model = build_model("vgg5", input_shape=(1, 28, 28), T=4, width=0.5, neuron=NeuronParameters(reset=strict))

    def train_loss() -> float:
        with torch.no_grad():
            return float(torch.nn.functional.cross_entropy(model.eval()(xt), yt))

    before = train_loss()
    train(model, train_set, torch.utils.data.Subset(mnist_test, range(0, 1000, 50)), Recipe(epochs=2, batch_size=40, lr=5e-3))
    assert train_loss() < before - 0.05  # STBP through the variant's own surrogate learns
    model = load_model(save_model(model, tmp_path / "strict.pt"))
    assert all(n.neuron.name == "strict" for n in model.neurons())

    # attacked with STBP and RGA: non-zero gradients, inside the eps-ball and the domain
    x, y = stack_samples(mnist_test, sample_indices(len(mnist_test), 16))
    for name in ("stbp-pgd", "rga-fgsm"):
        x_adv = AttackSpec(name, eps="0.1", steps=2).build()(model, x, y, torch.Generator().manual_seed(0)) \
            if "pgd" in name else AttackSpec(name, eps="0.1").build()(model, x, y)
        d = (x_adv - x).abs()
        assert float(d.max()) <= 0.1 + 1e-6 and float(d.mean()) > 0.01 and 0.0 <= float(x_adv.min()) <= float(x_adv.max()) <= 1.0

    # ONNX runs the neuron's plain step: the same scores as torch
    onnx_scores = OnnxBackend(model).predict(x[:8]).scores
    np.testing.assert_allclose(onnx_scores, TorchBackend(model).predict(x[:8]).scores, atol=1e-4)

    # NetX + Lava fixed point: on-grid weights make torch, Lava and the integer reference agree
    # spike for spike, which only holds if vThMant = K encodes "u > theta" exactly
    tiny = on_grid(tiny_vgg(encoder="poisson", reset=strict, T=6, seed=3))
    info = export(tiny, "netx", tmp_path / "strict.net")
    assert (tmp_path / "strict.net").is_file() and info
    backend = LavaSimBackend(tiny, precision="fixed", builder="netx", show_progress=False)
    steps = tiny.encoder.host_steps(torch.rand(3, 1, 8, 8), tiny.T, seed=5)
    _, run = backend.run_steps(steps, record_spikes=True)
    ref = simulate_fixed(backend.fixed, np.swapaxes(backend.fixed.messages(steps), 0, 1))
    spikes, logits = torch_spikes(tiny, torch.from_numpy(steps).transpose(0, 1))
    compared = 0
    for i, pop in enumerate(backend.graph.populations[:-1]):
        np.testing.assert_array_equal(run.spikes[i], np.swapaxes(ref.spikes[i], 0, 1))
        np.testing.assert_array_equal(run.spikes[i], spikes[pop.name].transpose(0, 1).numpy())
        compared += int(run.spikes[i].sum())
    assert compared > 50
    np.testing.assert_array_equal(run.readout, ref.readout[-1])
    # and the variant really differs from the paper's neuron at the tie: u == theta
    neuron = tiny.neurons()[0].neuron
    assert neuron.fires(torch.tensor([1.0])).item() == 0.0 and NEURONS["hard"](neuron.p).fires(torch.tensor([1.0])).item() == 1.0
