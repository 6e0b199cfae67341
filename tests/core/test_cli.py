"""CLI conventions: --help everywhere, one JSON object with --json, one-line errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from snnsec.cli.main import COMMANDS, main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse exits for --help and usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_explains_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0
    assert "usage: snnsec" in out and "--json" in out and len(out.splitlines()) > 8


def test_root_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    for command in COMMANDS:
        assert command in out


def test_craft_help_lists_every_registered_gradient_and_optimizer(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The help follows the registries: one registered in the test appears, with its summary."""
    from dataclasses import dataclass

    from snnsec.attacks.gradients import GRADIENTS, STBP
    from snnsec.attacks.optimizers import OPTIMIZERS

    @dataclass
    class Probe(STBP):
        name = "probe"
        summary = "a gradient registered by this test only"

    monkeypatch.setitem(GRADIENTS, "probe", Probe)
    code, out, _ = run(["craft", "--help"], capsys)
    assert code == 0
    lines = [" ".join(line.split()) for line in out.splitlines()]
    for registry in (GRADIENTS, OPTIMIZERS):
        for name, cls in registry.items():
            assert cls.summary and f"{name} {cls.summary}" in lines, name
    assert "probe-pgd," in " ".join(out.split())  # and --attack names its attacks


def test_env_json_is_one_object_with_versions_and_lava(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["env", "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert out.count("\n") == 1
    assert info["lava_lif_imports"] is True
    for pkg in ("torch", "norse", "lava-nc", "lava-dl", "tonic", "onnx", "onnxruntime"):
        assert info["versions"][pkg], pkg
    assert info["python"].startswith("3.") and info["device"] in {"cpu", "cuda"}
    assert info["torchvision_installed"] is False
    assert info["malloc_tuned"] is True and info["lava_conv"] == "snnsec (bit-exact on integers, float64 on floats)"  # what runs, for bug reports


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["train", "--arch", "vgg12", "--out", "m.pt"], "invalid choice: 'vgg12'"),
        (["train", "--out", "m.txt"], "--out must name a *.pt file, got m.txt"),
        (["train", "--dataset", "imagenet", "--out", "m.pt"], "unknown dataset 'imagenet'; choose one of:"),
        (["train", "--leak", "1.5", "--epochs", "1", "--out", "m.pt"], "leak lambda must lie in (0, 1], got 1.5"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], fragment: str, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    # an empty cache: the options are refused before any data is read or built (a dataset that
    # was built first would add its own line, and make the user wait for a doomed run)
    monkeypatch.setenv("SNNSEC_CACHE_DIR", str(tmp_path / "cache"))
    code, out, err = run(argv, capsys)
    assert not (tmp_path / "cache").exists()
    assert code == 2
    assert out == ""
    assert fragment in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "snnsec", "train", "--dataset", "imagenet", "--out", str(tmp_path / "m.pt")]
    plain = subprocess.run(cmd, capture_output=True, text=True)
    debug = subprocess.run(cmd + ["--debug"], capture_output=True, text=True)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    assert "Traceback" in debug.stderr and "InputError" in debug.stderr


@pytest.mark.slow
def test_train_vgg5_on_mnist5k_reaches_95_percent(demo_training) -> None:
    """`snnsec train --arch vgg5 --dataset mnist5k --T 4 --epochs 3 --seed 0 --json`: the session's
    one training run (conftest.demo_training), which the demo and the attack tests then reuse."""
    out_file, result = demo_training
    assert result["model"] == str(out_file) and out_file.is_file()
    assert result["test_samples"] == 1000
    assert result["test_accuracy"] >= 0.95

    import snnsec

    model = snnsec.load_model(out_file)
    meta = model.meta
    assert (meta.arch, meta.T, meta.dataset, meta.input_shape) == ("vgg5", 4, "mnist5k", [1, 28, 28])
    assert meta.test_accuracy == result["test_accuracy"]
    assert meta.recipe["epochs"] == 3 and meta.class_names == [str(i) for i in range(10)]
    assert not out_file.with_name(out_file.name + ".ckpt").exists()


def test_load_model_maps_images_to_logits(demo_model, mnist_test) -> None:
    import torch

    x, y = mnist_test.x[:64], mnist_test.y[:64]
    with torch.no_grad():
        logits = demo_model(x)
    assert logits.shape == (64, 10)
    assert (logits.argmax(1) == y).float().mean() > 0.9
