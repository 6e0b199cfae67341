"""Each architecture's layer list equals the paper's reference code, layer for layer.

The expected lists are written from the reference code's ``models/VGG.py`` and
``models/ResNet.py`` (its ``cfg`` tables and module definitions), independently of snnsec's
builders. Old model files (layout 1) still load with the layers they were trained with.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snnsec.errors import InputError
from snnsec.models import build_model, load_model, save_model
from snnsec.models.containers import ResidualBlock
from snnsec.neurons import LIF


def layer_list(module: nn.Module) -> list[str]:
    """Leaf layers in forward order; a residual block is ``[main | shortcut] -> LIF``."""
    out: list[str] = []
    for child in module.children():
        if isinstance(child, ResidualBlock):
            sc = layer_list(child.shortcut) or ["identity"]
            out.append("block[" + ", ".join(layer_list(child.main)) + " | " + ", ".join(sc) + "] -> LIF")
        elif isinstance(child, nn.Conv2d):
            b = "+b" if child.bias is not None else ""
            out.append(f"conv{child.kernel_size[0]}/{child.stride[0]}p{child.padding[0]}"
                       f"({child.in_channels},{child.out_channels}){b}")
        elif isinstance(child, nn.BatchNorm2d):
            out.append(f"bn2d({child.num_features})")
        elif isinstance(child, nn.BatchNorm1d):
            out.append(f"bn1d({child.num_features})")
        elif isinstance(child, nn.Linear):
            out.append(f"fc({child.in_features},{child.out_features})")
        elif isinstance(child, nn.AvgPool2d):
            out.append(f"avg{child.kernel_size}")
        elif isinstance(child, nn.Flatten):
            out.append("flatten")
        elif isinstance(child, LIF):
            out.append("LIF")
        else:
            out.extend(layer_list(child))
    return out


# The reference code's cfg tables, flattened (its five stages concatenated).
REFERENCE_CFG = {
    "vgg11": [64, "A", 128, 256, "A", 512, 512, 512, "A", 512, 512],
    "vgg13": [64, 64, "A", 128, 128, "A", 256, 256, "A", 512, 512, "A", 512, 512, "A"],
    "vgg16": [64, 64, "A", 128, 128, "A", 256, 256, 256, "A", 512, 512, 512, "A", 512, 512, 512, "A"],
    "vgg19": [64, 64, "A", 128, 128, "A", 256, 256, 256, 256, "A", 512, 512, 512, 512, "A",
              512, 512, 512, 512, "A"],
    "vggdvs": [64, 128, "A", 256, 256, "A", 512, 512, "A", 512, 512, "A"],
    "vgggesture": [16, 32, "A", 32, 32, "A"],
}


def reference_convs(cfg: list, cin: int) -> list[str]:
    out = []
    for v in cfg:
        if v == "A":
            out.append("avg2")
        else:
            out += [f"conv3/1p1({cin},{v})+b", f"bn2d({v})", "LIF"]
            cin = v
    return out


@pytest.mark.parametrize("arch,W", [("vgg11", 16), ("vgg13", 1), ("vgg16", 1), ("vgg19", 1)])
def test_cifar_vggs_match_the_reference(arch: str, W: int) -> None:
    # Reference VGG._make_classifier: Flatten, Linear(512*W, 4096), LIF, Linear(4096, 4096), LIF, Linear(4096, classes)
    expected = reference_convs(REFERENCE_CFG[arch], 3) + [
        "flatten", f"fc({512 * W},4096)", "LIF", "fc(4096,4096)", "LIF", "fc(4096,10)"]
    assert layer_list(build_model(arch, num_classes=10, T=1).body) == expected


@pytest.mark.parametrize("arch,channels,W", [("vggdvs", 512, 9), ("vgggesture", 32, 144)])
def test_dvs_vggs_match_the_reference(arch: str, channels: int, W: int) -> None:
    # Reference VGGDVS at init_s=48: W = (48 / 2**stages)**2, classifier Linear(channels * W, classes)
    model = build_model(arch, num_classes=11, input_shape=(10, 2, 48, 48), T=10, encoder="frames")
    expected = reference_convs(REFERENCE_CFG[arch], 2) + ["flatten", f"fc({channels * W},11)"]
    assert layer_list(model.body) == expected


def test_vggdvs_has_eight_convolutions() -> None:
    model = build_model("vggdvs", num_classes=10, input_shape=(10, 2, 48, 48), T=10, encoder="frames")
    assert [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)] == [64, 128, 256, 256, 512, 512, 512, 512]


def test_cnndvs_matches_the_reference() -> None:
    model = build_model("cnndvs", num_classes=10, input_shape=(10, 2, 48, 48), T=10, encoder="frames")
    w = int(int((int((48 + 2 - 5) / 2) + 1) / 2) / 2)  # the reference's own formula: 5
    assert layer_list(model.body) == [
        "conv5/2p1(2,16)+b", "bn2d(16)", "LIF", "avg2", "LIF",
        "conv3/1p1(16,32)+b", "bn2d(32)", "LIF", "avg2", "LIF",
        "flatten", f"fc({32 * w * w},512)", "LIF", "fc(512,10)",
    ]


def _block(cin: int, cout: int, stride: int, conv_shortcut: bool) -> str:
    main = f"conv3/{stride}p1({cin},{cout}), bn2d({cout}), LIF, conv3/1p1({cout},{cout}), bn2d({cout})"
    sc = f"conv1/{stride}p0({cin},{cout}), bn2d({cout})" if conv_shortcut else "identity"
    return f"block[{main} | {sc}] -> LIF"


def _make_layer(cin: int, cout: int, blocks: int, stride: int) -> list[str]:
    # Reference make_layer: the first block always gets conv(in, out, 1, stride) + BN as its shortcut.
    return [_block(cin, cout, stride, True)] + [_block(cout, cout, 1, False) for _ in range(blocks - 1)]


def test_resnet17_matches_the_reference() -> None:
    expected = (["conv3/1p1(3,64)", "bn2d(64)", "LIF"]  # no pool after the stem
                + _make_layer(64, 64, 3, 2) + _make_layer(64, 128, 4, 2)
                + ["avg2", "flatten", "fc(2048,256)", "bn1d(256)", "fc(256,10)"])  # no LIF between the FCs
    assert layer_list(build_model("resnet17", num_classes=10, T=1).body) == expected


def test_resnet19_matches_the_reference() -> None:
    expected = (["conv3/1p1(3,128)", "bn2d(128)", "LIF"]
                + _make_layer(128, 128, 3, 1) + _make_layer(128, 256, 3, 2) + _make_layer(256, 512, 2, 2)
                + ["avg2", "flatten", "fc(8192,256)", "bn1d(256)", "fc(256,100)"])
    assert layer_list(build_model("resnet19", num_classes=100, T=1).body) == expected


# -- old files ------------------------------------------------------------------------------------


def _as_layout_1(path, arch: str) -> None:
    """Rewrite a saved file's metadata as snnsec wrote it before layouts existed."""
    payload = torch.load(path, weights_only=True)
    payload["meta"]["arch"] = arch
    del payload["meta"]["layout"]
    torch.save(payload, path)


@pytest.mark.parametrize("arch,shape,encoder", [
    ("resnet17", (3, 16, 16), "direct"), ("vggdvs", (2, 2, 32, 32), "frames"), ("vgg11", (3, 32, 32), "direct")])
def test_layout_1_files_load_with_their_old_layers(tmp_path, arch: str, shape: tuple, encoder: str) -> None:
    torch.manual_seed(0)
    T = shape[0] if encoder == "frames" else 2
    old = build_model(f"{arch}-v1", num_classes=4, input_shape=shape, T=T, encoder=encoder, width=0.125).eval()
    path = save_model(old, tmp_path / "old.pt")
    _as_layout_1(path, arch)
    loaded = load_model(path)
    assert loaded.meta.arch == f"{arch}-v1" and loaded.meta.layout == 1
    x = torch.rand(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), old(x), rtol=0, atol=0)
    # the same weights do not fit the current layout of that name
    assert layer_list(loaded.body) != layer_list(
        build_model(arch, num_classes=4, input_shape=shape, T=T, encoder=encoder, width=0.125).body)


def test_new_files_record_the_current_layout(tmp_path) -> None:
    from snnsec.models.layouts import LAYOUT_VERSION

    path = save_model(build_model("resnet17", num_classes=4, input_shape=(3, 16, 16), T=1, width=0.125), tmp_path / "m.pt")
    assert torch.load(path, weights_only=True)["meta"]["layout"] == LAYOUT_VERSION
    assert load_model(path).meta.arch == "resnet17"


def test_a_newer_layout_is_refused_in_one_line(tmp_path) -> None:
    path = save_model(build_model("vgg5", num_classes=4, T=1), tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["meta"]["layout"] = 99
    torch.save(payload, path)
    with pytest.raises(InputError, match=r"model layout 99 is not known to this snnsec \(it reads layouts 1\.\.2\)") as err:
        load_model(path)
    assert "\n" not in str(err.value)
