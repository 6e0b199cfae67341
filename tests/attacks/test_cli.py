"""``snnsec craft`` / ``evaluate``: files with provenance, JSON reports, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import snnsec
from snnsec.data.adversarial import load_adversarial
from snnsec.cli.main import main
from snnsec.data import get_dataset
from snnsec.data.base import sample_indices
from snnsec.models import save_model
from snnsec.utils.io import sha256_file

pytestmark = pytest.mark.cost(12)  # rough CPU seconds under the suite: orders the xdist schedule


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def craft_args(model: Path, out: Path, *extra: str) -> list[str]:
    return ["craft", "--model", str(model), "--attack", "rga-pgd", "--eps", "8/255", "--alpha", "2/255",
            "--steps", "2", "--n", "20", "--batch-size", "8", "--seed", "3", "--out", str(out), "--json", "--quiet", *extra]


def test_craft_writes_adversarial_file_with_provenance(demo_model_path, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "adv.pt"
    code, stdout, _ = run(craft_args(demo_model_path, out), capsys)
    assert code == 0
    summary = json.loads(stdout)  # exactly one JSON object
    assert summary["n"] == 20 and summary["batches"] == 3 and summary["resumed_batches"] == 0
    adv = load_adversarial(out)
    test = get_dataset("mnist5k").split("test")
    assert len(adv) == 20 and torch.equal(adv.index, sample_indices(len(test), 20))
    assert torch.equal(adv.y, test.y[adv.index]) and torch.equal(adv.x, test.x[adv.index])
    assert len(adv.y.unique()) >= 5  # a mix of classes, although the split is sorted by label
    assert float((adv.x_adv - adv.x).abs().max()) <= 8 / 255 + 1e-6
    meta = adv.meta
    assert meta["eps"] == "8/255" and meta["attack"]["alpha"] == "2/255" and meta["attack"]["attack"] == "rga-pgd"
    assert meta["model_sha256"] == sha256_file(demo_model_path) and meta["black_box"] is False
    assert meta["seed"] == 3 and meta["snnsec_version"] == snnsec.__version__ and meta["dataset"] == "mnist5k"
    assert not out.with_name("adv.pt.partial").exists()


def test_craft_as_the_user_types_it_uses_the_models_dataset_and_its_eps(demo_model_path, tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run(["craft", "--model", str(demo_model_path), "--attack", "rga-fgsm", "--n", "6", "--json"], capsys)
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["out"] == "adv-rga-fgsm.pt" and summary["eps"] == "0.2"  # MNIST-5k's convention
    adv = load_adversarial(tmp_path / "adv-rga-fgsm.pt")
    assert adv.meta["dataset"] == "mnist5k" and len(adv) == 6
    assert float((adv.x_adv.double() - adv.x.double()).abs().max()) <= 0.2


def test_evaluate_adv_reports_accuracy_asr_and_classes(demo_model_path, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "adv.pt"
    assert run(craft_args(demo_model_path, out), capsys)[0] == 0
    code, stdout, _ = run(["evaluate", "--model", str(demo_model_path), "--adv", str(out), "--json", "--quiet"], capsys)
    assert code == 0
    report = json.loads(stdout)
    for key in ("clean_accuracy", "robust_accuracy", "asr", "n", "per_class"):
        assert key in report
    assert report["n"] == 20 and report["eps"] == "8/255"
    assert report["robust_accuracy"] <= report["clean_accuracy"]
    assert sum(row["n"] for row in report["per_class"]) == 20
    # crafting and evaluating in one go gives the same figures as the two steps
    code, stdout, _ = run(["evaluate", "--model", str(demo_model_path), *craft_args(demo_model_path, out)[3:-6],
                           "--seed", "3", "--json", "--quiet"], capsys)
    assert code == 0
    one_go = json.loads(stdout)
    assert (one_go["clean_accuracy"], one_go["robust_accuracy"], one_go["asr"]) == (
        report["clean_accuracy"], report["robust_accuracy"], report["asr"])


def test_black_box_crafts_on_the_substitute(demo_model_path, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    sub = snnsec.load_model(demo_model_path)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in sub.parameters():
            p.mul_(1 + 0.2 * torch.randn_like(p))
    sub_path = save_model(sub, tmp_path / "substitute.pt")
    white, black = tmp_path / "white.pt", tmp_path / "black.pt"
    assert run(craft_args(demo_model_path, white), capsys)[0] == 0
    assert run(craft_args(demo_model_path, black, "--substitute", str(sub_path)), capsys)[0] == 0
    meta = load_adversarial(black).meta
    assert meta["black_box"] is True and meta["crafted_on_sha256"] == sha256_file(sub_path)
    assert meta["model_sha256"] == sha256_file(demo_model_path)
    assert not torch.equal(load_adversarial(black).x_adv, load_adversarial(white).x_adv)


def test_time_extension_is_recorded(demo_model_path, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "te.pt"
    assert run(craft_args(demo_model_path, out, "--te", "2"), capsys)[0] == 0
    meta = load_adversarial(out).meta
    assert meta["attack"]["te"] == 2 and meta["crafted_T"] == 8 and meta["model_T"] == 4


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--attack", "rga-pdg"], "unknown attack 'rga-pdg'; choose one of: "),
        (["--eps", "eight"], "eps must be a number or a fraction such as 8/255, got 'eight'"),
        (["--attack", "rga-fgsm", "--alpha", "0.1"], "attack 'rga-fgsm' takes no option alpha; its options: beta, gamma, time_chunk"),
        (["--te", "0"], "time extension factor must be a positive integer, got 0"),
        (["--dataset", "mnist6k"], "unknown dataset 'mnist6k'; choose one of: "),
    ],
)
def test_craft_bad_input_is_one_line_exit_2(demo_model_path, tmp_path, capsys, argv, message) -> None:  # type: ignore[no-untyped-def]
    args = craft_args(demo_model_path, tmp_path / "x.pt")
    for i in range(0, len(argv), 2):
        pos = args.index(argv[i]) if argv[i] in args else None
        if pos is None:
            args += [argv[i], argv[i + 1]]
        else:
            args[pos + 1] = argv[i + 1]
    code, stdout, stderr = run(args, capsys)
    assert code == 2 and stdout == ""
    assert stderr.count("\n") == 1 and message in stderr, stderr


def test_evaluate_needs_exactly_one_source(demo_model_path, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, stderr = run(["evaluate", "--model", str(demo_model_path)], capsys)
    assert code == 2 and "either --adv FILE" in stderr
    code, _, stderr = run(["evaluate", "--model", str(demo_model_path), "--adv", str(tmp_path / "none.pt")], capsys)
    assert code == 2 and "adversarial file not found" in stderr


def test_craft_killed_midway_resumes_to_the_same_file(demo_model_path, tmp_path) -> None:  # type: ignore[no-untyped-def]
    def command(out: Path) -> list[str]:
        return [sys.executable, "-m", "snnsec", "craft", "--model", str(demo_model_path), "--attack", "rga-pgd",
                "--eps", "0.1", "--steps", "5", "--n", "120", "--batch-size", "8", "--seed", "11",
                "--out", str(out), "--json", "--quiet"]

    env = dict(os.environ, SNNSEC_PROGRESS="0")
    resumed, fresh = tmp_path / "resumed.pt", tmp_path / "fresh.pt"
    partial = tmp_path / "resumed.pt.partial"
    proc = subprocess.Popen(command(resumed), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(partial.glob("batch-*.pt"))) >= 1:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "craft finished before it could be killed"
    done = len(list(partial.glob("batch-*.pt")))
    assert 1 <= done < 15 and not resumed.exists()

    result = subprocess.run(command(resumed), env=env, capture_output=True, text=True, check=True)
    summary = json.loads(result.stdout)
    assert summary["resumed_batches"] == done and summary["batches"] == 15
    subprocess.run(command(fresh), env=env, capture_output=True, check=True)
    assert resumed.read_bytes() == fresh.read_bytes()
    assert not partial.exists()
