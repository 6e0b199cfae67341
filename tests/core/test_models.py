"""Architectures build, run forward and backward, and check their inputs."""

from __future__ import annotations

import pytest
import torch

from snnsec.errors import InputError
from snnsec.models import MODELS, build_model
from snnsec.neurons import LIF, NeuronParameters


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["vgg11", "resnet17"])
@pytest.mark.parametrize("classes", [10, 100])
def test_paper_architectures_forward_and_backward_at_T8(arch: str, classes: int) -> None:
    torch.manual_seed(0)
    model = build_model(arch, num_classes=classes, input_shape=(3, 32, 32), T=8)
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    logits = model(x)
    assert logits.shape == (2, classes)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    first_conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.weight.grad is not None and first_conv.weight.grad.abs().sum() > 0


def test_vgg11_has_the_reference_layout() -> None:
    model = build_model("vgg11", num_classes=10, T=1)
    convs = [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    linears = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert convs == [64, 128, 256, 512, 512, 512, 512, 512]
    assert linears == [(8192, 4096), (4096, 4096), (4096, 10)]


def test_resnet17_has_17_weight_layers_on_the_main_path() -> None:
    model = build_model("resnet17", num_classes=10, T=1)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    linears = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(convs) + len(linears) == 17
    assert linears == [(2048, 256), (256, 10)]


@pytest.mark.parametrize("arch", sorted(MODELS))
def test_every_registered_model_runs_its_default_shape(arch: str) -> None:
    from snnsec.models.registry import get_model_entry

    shape = get_model_entry(arch).input_shape
    encoder = "frames" if len(shape) == 4 else "direct"
    T = shape[0] if encoder == "frames" else 2
    model = build_model(arch, num_classes=10, input_shape=shape, T=T, encoder=encoder, width=0.125)
    assert model(torch.rand(2, *shape)).shape == (2, 10)


def test_neuron_settings_reach_every_layer() -> None:
    p = NeuronParameters(leak=0.5, theta=0.75, reset="soft")
    model = build_model("vgg5", num_classes=10, T=2, neuron=p)
    assert model.neurons() and all(n.p == p for n in model.neurons())


def test_chunked_forward_equals_whole_forward() -> None:
    torch.manual_seed(0)
    model = build_model("vgg5", num_classes=10, T=6, neuron=NeuronParameters(theta=0.3)).eval()
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        whole = model(x)
        with model.chunked(4):
            chunked = model(x)
    torch.testing.assert_close(whole, chunked)


def test_time_extension_context_restores_T() -> None:
    model = build_model("vgg5", num_classes=10, T=4)
    with model.timesteps(8):
        assert model.T == 8
    assert model.T == 4


def test_wrong_input_shape_is_a_one_line_error() -> None:
    model = build_model("vgg5", num_classes=10, T=2)
    with pytest.raises(InputError, match=r"expected input with shape \[B, 1, 28, 28\], got \[2, 3, 28, 28\]"):
        model(torch.rand(2, 3, 28, 28))


def test_unknown_architecture_lists_the_choices() -> None:
    with pytest.raises(InputError, match="unknown architecture 'vgg12'; choose one of: .*resnet17.*vgg11"):
        build_model("vgg12")


def test_stateless_layers_see_time_folded_batches() -> None:
    model = build_model("vgg5", num_classes=10, T=5)
    seen = []
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda m, i, o: seen.append(i[0].shape))
    model(torch.rand(3, 1, 28, 28))
    assert seen == [torch.Size([15, 1, 28, 28])]
    assert all(isinstance(n, LIF) for n in model.neurons())
