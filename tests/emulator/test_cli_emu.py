"""The commands on loihi2-emu: deploy/evaluate JSON, --check-lava against lava-sim, option errors."""

from __future__ import annotations

import json

import pytest

from snnsec.cli.main import main
from snnsec.models import save_model
from tests.lava.test_lava_deploy import _adv_file
from tests.lava.tiny_models import tiny_vgg


@pytest.mark.lava
def test_deploy_on_the_emulator_reports_like_lava_sim_and_checks_against_it(tmp_path, capsys):
    path = save_model(tiny_vgg(encoder="poisson", T=4, seed=2), tmp_path / "m.pt")
    adv = _adv_file(tmp_path / "adv.pt", 6)
    assert main(["deploy", "--model", str(path), "--backend", "loihi2-emu", "--adv", str(adv), "--n", "5",
                 "--device", "cpu", "--batch-size", "2", "--check-lava", "3", "--json"]) == 0
    emu = json.loads(capsys.readouterr().out)
    info = emu["backend_info"]
    assert info["builder"] == "emulator" and info["batch_size"] == 2 and info["samples_per_s"] > 0
    assert emu["check_lava"]["identical"] and emu["check_lava"]["samples"] == 6  # 3 clean + 3 adversarial
    assert main(["deploy", "--model", str(path), "--backend", "lava-sim", "--adv", str(adv), "--n", "5", "--json"]) == 0
    lava = json.loads(capsys.readouterr().out)
    for key in ("clean_accuracy", "agreement", "adv_accuracy", "adv_agreement", "asr_backend", "transfer_ratio"):
        assert emu[key] == lava[key] or (emu[key] != emu[key] and lava[key] != lava[key]), key


@pytest.mark.lava
def test_evaluate_on_the_emulator_checks_the_first_k_of_both_sets(tmp_path, capsys):
    path = save_model(tiny_vgg(encoder="direct", T=3, seed=1), tmp_path / "m.pt")
    adv = _adv_file(tmp_path / "adv.pt", 4)
    assert main(["evaluate", "--model", str(path), "--adv", str(adv), "--backend", "loihi2-emu",
                 "--check-lava", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["check_lava"]["identical"] and report["check_lava"]["sets"] == ["clean", "adv"]
    assert report["backend_info"]["backend"] == "loihi2-emu"


def test_emulator_options_are_refused_elsewhere_and_checked(tmp_path, capsys):
    path = save_model(tiny_vgg(T=2), tmp_path / "m.pt")
    adv = str(_adv_file(tmp_path / "adv.pt", 2))
    assert main(["deploy", "--model", str(path), "--adv", adv, "--backend", "torch", "--batch-size", "4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "apply to --backend loihi2-emu only" in err
    assert main(["deploy", "--model", str(path), "--adv", adv, "--backend", "loihi2-emu", "--check-lava", "0"]) == 2
    assert "--check-lava must be a positive number of samples, got 0" in capsys.readouterr().err
