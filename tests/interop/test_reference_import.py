"""Reference-code checkpoints import with identical logits (vgg11, resnet17), safely."""

from __future__ import annotations

import json
import os

import pytest
import torch

from snnsec.cli.main import main
from snnsec.errors import InputError
from snnsec.interop.reference import import_reference, reference_slots
from snnsec.models import load_model
from tests.interop.reference_models import RefResNet17, RefVGG, randomise_batchnorm


def _spiking_fraction(model: torch.nn.Module, x: torch.Tensor) -> float:
    from tests.interop.reference_models import LIFSpike

    rates = []
    hooks = [m.register_forward_hook(lambda mod, i, o: rates.append(float(o.mean()))) for m in model.modules()
             if isinstance(m, LIFSpike)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return min(rates), max(rates)


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_reference_vgg11_state_dict_imports_with_identical_logits(tmp_path, capsys, tau: float) -> None:
    torch.manual_seed(0)
    ref = randomise_batchnorm(RefVGG("vgg11", T=4, num_class=10, tau=tau, width=0.125), seed=1)
    with torch.no_grad():  # trained classifiers have larger weights than the default init: let them fire
        ref.classifier[1].weight.mul_(8)
        ref.classifier[3].weight.mul_(8)
    assert "layer1.0.bias" in ref.state_dict() and "classifier.5.weight" in ref.state_dict()
    ckpt = tmp_path / ("vgg11_T[4]_tau[%.2f].pth" % tau)
    torch.save({f"module.{k}": v for k, v in ref.state_dict().items()}, ckpt)  # as saved from DataParallel

    out = tmp_path / "vgg11.pt"
    rc = main(["import", "--reference", str(ckpt), "--arch", "vgg11", "--T", "4", "--tau", str(tau),
               "--out", str(out), "--json", "--quiet"])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0 and summary["arch"] == "vgg11" and summary["num_classes"] == 10
    model = load_model(out)
    assert model.meta.normalization["std"] == [0.2023, 0.1994, 0.2010]
    assert model.neurons()[0].p.leak == tau

    x = torch.rand(6, 3, 32, 32)
    lo, hi = _spiking_fraction(ref, x)
    assert lo > 0.0 and hi < 1.0, "every layer must fire sometimes, or the comparison proves little"
    with torch.no_grad():
        want = ref(x).mean(0)
        got = model(x)
    assert torch.equal(got, want)


@pytest.mark.parametrize("arch", ["resnet17", "resnet19"])
def test_reference_resnet_state_dicts_import_with_identical_logits(tmp_path, arch: str) -> None:
    torch.manual_seed(1)
    kw = {} if arch == "resnet17" else {"stem": 128, "stages": ((128, 3, 1), (256, 3, 2), (512, 2, 2))}
    ref = randomise_batchnorm(RefResNet17(T=3, tau=1.0, num_class=10, width=0.125, **kw), seed=2)
    ckpt = tmp_path / f"{arch}.pth"
    torch.save(ref.state_dict(), ckpt)
    model = import_reference(ckpt, arch, T=3, tau=1.0, dataset="cifar10")
    x = torch.rand(4, 3, 32, 32)
    lo, hi = _spiking_fraction(ref, x)
    assert lo > 0.0 and hi < 1.0
    with torch.no_grad():
        assert torch.equal(model(x), ref(x).mean(0))


def test_reference_slots_name_every_key_of_the_reference_layout() -> None:
    keys = set(RefVGG("vgg11", T=1, num_class=10, tau=1.0, width=0.125).state_dict())
    expected = {f"{s.prefix}.{p}" for s in reference_slots("vgg11")
                for p in (("weight", "bias") if s.kind != "bn" else
                          ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"))}
    assert keys == expected


def test_a_checkpoint_that_runs_code_is_refused(tmp_path) -> None:
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    ckpt = tmp_path / "evil.pth"
    torch.save({"layer1.0.weight": Evil()}, ckpt)
    with pytest.raises(InputError, match="refused to load .*weights-only") as err:
        import_reference(ckpt, "vgg11")
    assert "\n" not in str(err.value) and not (tmp_path / "pwned").exists()


def test_wrong_architecture_and_extra_keys_are_one_line_errors(tmp_path) -> None:
    sd = RefVGG("vgg11", T=1, num_class=10, tau=1.0, width=0.125).state_dict()
    with pytest.raises(InputError, match=r"not a reference resnet17 state_dict: key 'pre_conv.fwd.0.weight' missing"):
        import_reference(sd, "resnet17")
    with pytest.raises(InputError, match=r"unknown reference architecture 'vgg12'; choose one of: .*vgg11"):
        import_reference(sd, "vgg12")
    sd = dict(sd, **{"layer9.0.weight": torch.zeros(1)})
    with pytest.raises(InputError, match=r"1 keys snnsec's vgg11 does not use, e.g. 'layer9.0.weight'"):
        import_reference(sd, "vgg11")


@pytest.mark.slow
def test_full_size_reference_vgg11_imports_with_identical_logits(tmp_path) -> None:
    torch.manual_seed(3)
    ref = randomise_batchnorm(RefVGG("vgg11", T=2, num_class=10, tau=1.0, width=1.0), seed=4)
    ckpt = tmp_path / "vgg11_T[2]_tau[1.00].pth"
    torch.save(ref.state_dict(), ckpt)
    model = import_reference(ckpt, "vgg11", T=2)
    assert [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1] == 512
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), ref(x).mean(0))


@pytest.mark.parametrize("arch", ["vggdvs", "cnndvs"])
def test_reference_dvs_models_import_with_identical_logits(tmp_path, arch: str) -> None:
    from tests.interop.reference_models import RefCNNDVS, RefVGGDVS

    torch.manual_seed(4)
    T = 3
    ref = RefVGGDVS(T, num_class=10, tau=0.8, width=0.125) if arch == "vggdvs" else RefCNNDVS(T, num_class=10, tau=0.8)
    ref = randomise_batchnorm(ref, seed=5)
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, torch.nn.Linear):
                m.weight.mul_(6)
    torch.save(ref.state_dict(), tmp_path / "dvs.pth")
    model = import_reference(tmp_path / "dvs.pth", arch, T=T, tau=0.8, dataset=None)
    assert model.meta.encoder == "frames" and model.meta.input_shape == [T, 2, 48, 48]
    x = (torch.rand(4, T, 2, 48, 48) < 0.3).float() * 2.0  # event counts, as the reference's frames
    lo, hi = _spiking_fraction(ref, x.transpose(0, 1))
    assert lo > 0.0 and hi < 1.0
    with torch.no_grad():
        assert torch.equal(model(x), ref(x.transpose(0, 1)).mean(0))
