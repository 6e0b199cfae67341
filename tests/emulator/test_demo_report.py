"""The demo's report rendering and cross-check verdict, and its command-line refusals (no model,
no Lava: fast)."""

from __future__ import annotations

import math

import numpy as np
import pytest


def _rows(backend: str, n: int, asr: float) -> dict:
    row = {"adv_accuracy": 0.5, "torch_adv_accuracy": 0.5, "adv_agreement": 1.0, "asr_backend": asr,
           "asr_torch": 0.5, "transfer_ratio": asr / 0.5, "eps": "0.2"}
    return {"backend": backend, "n": n, "clean_accuracy": 0.97, "torch_clean_accuracy": 0.97, "agreement": 1.0,
            "attacks": {"stbp-fgsm": dict(row), "rga-pgd": dict(row, asr_torch=float("nan"))}}


def _lava_result(fixed: bool = True, **changes) -> dict:
    result = {"precision": "fixed" if fixed else "float", "compared": "x", "lava_labels": [1, 2, 3, 4, 5, 6],
              "emulator_labels": [1, 2, 3, 4, 5, 6], "identical": True if fixed else None, "spikes_compared": fixed,
              "first_difference": None, "lava_info": {"seconds": 1.5}, "reused": False}
    result.update(changes)
    return result


def test_cross_check_agrees_only_when_spikes_and_every_prediction_agree() -> None:
    from snnsec.demo import _cross_check

    ok = _cross_check(_lava_result(), np.array([1, 2, 3, 4, 5, 6]), ["clean", "rga-pgd"], 3)
    assert ok["agree"] is True and ok["predictions_equal"] == 6 and ok["samples"] == 6
    # this process's emulator labels (another batch composition) must match too
    bad = _cross_check(_lava_result(), np.array([1, 2, 3, 4, 0, 6]), ["clean", "rga-pgd"], 3)
    assert bad["agree"] is False and bad["first_prediction_difference"] == {"set": "rga-pgd", "sample": 1}
    spikes = _cross_check(_lava_result(identical=False,
                                       first_difference={"sample": 4, "layer": "body.2", "step": 0, "what": "spikes"}),
                          np.array([1, 2, 3, 4, 5, 6]), ["clean", "rga-pgd"], 3)
    assert spikes["agree"] is False and spikes["predictions_differ"] == 0
    assert spikes["first_difference"] == {"sample": 1, "set": "rga-pgd", "layer": "body.2", "step": 0, "what": "spikes"}
    # float Lava is not the emulator's arithmetic: only the share of equal predictions is reported
    flt = _cross_check(_lava_result(False, lava_labels=[1, 2, 3, 4, 5, 0]), np.array([1, 2, 3, 4, 5, 6]),
                       ["clean", "rga-pgd"], 3)
    assert flt["agree"] is True and math.isclose(flt["prediction_agreement"], 5 / 6)


def test_demo_text_markdown_and_plot_show_both_backends_and_the_verdict(tmp_path) -> None:
    from snnsec.demo import _cross_check
    from snnsec.evaluation import transfer_report

    report = _rows("loihi2-emu", 1000, 0.6)
    report["lava"] = _rows("lava-sim", 100, 0.7)
    report["cross_check"] = _cross_check(_lava_result(), np.array([1, 2, 3, 4, 5, 6]), ["clean", "rga-pgd"], 3)
    report["timings_s"] = {"craft": 1.0, "total": 2.5}
    text = transfer_report.demo_text(report)
    assert "loihi2-emu (Loihi 2 fixed point, batched emulator) on 1000 digits" in text
    assert "lava-sim (fixed point, Lava's CPU simulator) on the first 100 digits" in text
    assert "ASR loihi2-emu" in text and "ASR lava-sim" in text and "70.0 %" in text
    assert "every layer's spikes, every readout v and all 6 predictions identical" in text
    md = transfer_report.demo_markdown(report, "T", "pre")
    assert md.count("| stbp-fgsm |") == 2 and "| n/a |" in md and "total 2.5" in md
    report["cross_check"]["agree"] = False
    report["cross_check"]["predictions_differ"] = 1
    assert "LOIHI2-EMU DIFFERS FROM LAVA-SIM" in transfer_report.demo_text(report)
    transfer_report.demo_plot(report, tmp_path / "t.png", "title")
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    del report["lava"], report["cross_check"]  # --check-lava 0: the emulator alone
    assert "lava-sim" not in transfer_report.demo_text(report)
    assert "## lava-sim" not in transfer_report.demo_markdown(report, "T")


@pytest.mark.parametrize("argv, field", [
    (["--check-lava", "-1"], "--check-lava"), (["--batch-size", "0"], "--batch-size"), (["--n", "0"], "--n"),
])
def test_demo_command_refuses_bad_counts_in_one_line(argv, field, tmp_path, capsys) -> None:
    from snnsec.cli.main import main

    code = main(["demo", "--out-dir", str(tmp_path / "out"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and field in err[0]
    assert not (tmp_path / "out").exists()  # refused before any work


def test_demo_command_defaults_emulate_every_test_digit_and_check_100_on_lava() -> None:
    import argparse

    from snnsec.cli import demo as cli_demo
    from snnsec.demo import CRAFT_BATCH, DEMO_CHECK, DEMO_N

    parser = argparse.ArgumentParser()
    cli_demo.add_parser(parser.add_subparsers(), "demo", "demo")
    args = parser.parse_args(["demo"])
    assert (args.n, args.check_lava, DEMO_N, DEMO_CHECK) == (1000, 100, 1000, 100)
    assert DEMO_CHECK % CRAFT_BATCH == 0  # the cross-checked digits are whole crafting batches


def test_side_work_yields_to_lava_while_it_runs() -> None:
    """Beside Lava the demo's own work uses one core fewer and a higher nice value (checked in a
    thread of its own: on Linux a nice value is per thread, and only root may lower it again)."""
    import os
    import threading

    import torch

    from snnsec.demo import SIDE_NICE, _leave_a_core

    seen: dict[str, int] = {}

    def work() -> None:
        before = seen["before"] = os.getpriority(os.PRIO_PROCESS, 0)
        threads = torch.get_num_threads()
        with _leave_a_core(False):
            seen["off"] = os.getpriority(os.PRIO_PROCESS, 0) - before
        with _leave_a_core(True):
            seen["on"] = os.getpriority(os.PRIO_PROCESS, 0) - before
            seen["threads"] = torch.get_num_threads()
        seen["after"] = os.getpriority(os.PRIO_PROCESS, 0) - before
        seen["threads_after"] = torch.get_num_threads() - threads

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen["off"] == 0 and seen["on"] == min(19, seen["before"] + SIDE_NICE) - seen["before"] and seen["threads_after"] == 0
    assert seen["threads"] == max(1, min(torch.get_num_threads(), (os.cpu_count() or 1) - 1))
    if os.geteuid() == 0:
        assert seen["after"] == 0
