"""Every backend x every encoder: each backend gets the encoder's host steps and computes what it
promises. Float backends equal the torch model; fixed-point backends equal the integer reference
(simulate_fixed) exactly. A new backend or encoder is picked up from the registries."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from snnsec.backends import BACKENDS, get_backend
from snnsec.encoders import ENCODERS
from snnsec.errors import SnnsecError
from snnsec.export.reference import simulate_fixed
from snnsec.models import build_model
from snnsec.neurons import NeuronParameters

pytestmark = pytest.mark.lava

FLOAT = {"torch", "onnx"}
FIXED = {"lava-sim", "loihi2-emu"}
BOARD = {"loihi2"}  # needs Intel's lava-loihi and a board: refuses in one line here


def tiny(encoder: str, T: int = 4) -> nn.Module:
    """vgg5 at width 1/8 on 1x8x8 for any encoder (frames: [T, 1, 8, 8] samples)."""
    torch.manual_seed(11)
    shape = (T, 1, 8, 8) if ENCODERS[encoder].sample_ndim == 4 else (1, 8, 8)
    norm = {"mean": [0.25], "std": [0.5]} if ENCODERS[encoder].static_steps else None
    model = build_model("vgg5", num_classes=3, input_shape=shape, T=T, width=0.125, encoder=encoder,
                        neuron=NeuronParameters(leak=0.875), normalization=norm)
    gen = torch.Generator().manual_seed(3)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.weight.data = torch.randn(m.weight.shape, generator=gen) * (3.0 / m.weight[0].numel() ** 0.5)
        if isinstance(m, nn.BatchNorm2d):
            m.bias.data.uniform_(0.0, 0.3, generator=gen)
    return model.eval()


def samples(model, n: int = 5) -> torch.Tensor:
    x = torch.rand(n, *model.meta.input_shape, generator=torch.Generator().manual_seed(2))
    return torch.round(x * 255) / 255  # 8-bit values: graded input enters Loihi exactly


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_backend_computes_what_it_promises_for_every_encoder(backend: str, encoder: str) -> None:
    model = tiny(encoder)
    x = samples(model)
    if backend in BOARD:
        with pytest.raises(SnnsecError):
            get_backend(backend, model)
        return
    options = {"show_progress": False} if backend == "lava-sim" else {}
    impl = get_backend(backend, model, **options)
    pred = impl.predict(x, seed=4)
    steps = model.encoder.host_steps(x, model.T, seed=4)
    if backend in FLOAT:
        with torch.no_grad():
            seq = model.encoder.from_host(torch.from_numpy(steps).transpose(0, 1))
            want = model.run(seq)[0].double().sum(0).numpy()
        np.testing.assert_allclose(pred.scores, want, rtol=1e-5, atol=1e-4)
    else:
        assert backend in FIXED, f"add {backend!r} to FLOAT, FIXED or BOARD in this test"
        from snnsec.export.graph import model_graph
        from snnsec.export.quantize import quantize

        fixed = quantize(model_graph(model))
        ref = simulate_fixed(fixed, np.swapaxes(fixed.messages(steps), 0, 1))
        readout = ref.readout[-1] / (64.0 * fixed.populations[-1].scale)
        np.testing.assert_array_equal(pred.scores, readout)
        assert np.abs(ref.readout[-1]).max() > 0  # the readout integrated something
    assert pred.labels.shape == (len(x),)


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_host_steps_are_what_the_encoder_feeds_the_model(encoder: str) -> None:
    """The steps a host sends, read back by the encoder, are the model's own input sequence
    (for a random encoder: its draws when reseeded with the same seed)."""
    model = tiny(encoder)
    x = samples(model, 3)
    steps = torch.from_numpy(model.encoder.host_steps(x, model.T, seed=9)).transpose(0, 1)
    model.encoder.reseed(9)
    assert torch.equal(model.encoder.from_host(steps), model.encoder.encode(x, model.T))


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_encoder_gradient_is_its_straight_through_mean(encoder: str) -> None:
    """d/dx of the T steps equals T times d/dx of their mean (identity STE for random draws)."""
    model = tiny(encoder)
    x = samples(model, 2).requires_grad_(True)
    (g_seq,) = torch.autograd.grad(model.encoder.encode(x, model.T).sum(), x)
    (g_mean,) = torch.autograd.grad(model.encoder.encode_mean(x).sum(), x)
    assert torch.allclose(g_seq, model.T * g_mean) and float(g_mean.abs().sum()) > 0


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_encoder_metadata_round_trip(encoder: str) -> None:
    from snnsec.models import model_from_meta

    model = tiny(encoder)
    again = model_from_meta(model.meta)
    assert type(again.encoder) is type(model.encoder) and again.encoder.to_meta() == model.encoder.to_meta()
    lo, hi = model.encoder.domain
    assert lo < hi
