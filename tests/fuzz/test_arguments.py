"""Hostile and careless arguments: refused before any work, in one line, creating nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.hostile import assert_refused

CRAFT = ["craft", "--model", "m.pt", "--attack", "stbp-fgsm", "--n", "2", "--out", "a2.pt"]
EVAL = ["evaluate", "--model", "m.pt", "--adv", "adv.pt"]
EVAL_ATTACK = ["evaluate", "--model", "m.pt", "--attack", "stbp-fgsm", "--eps", "0.1", "--n", "2"]
TRAIN = ["train", "--arch", "vgg5", "--width", "0.125", "--T", "2", "--epochs", "1", "--out", "t.pt"]
EXPORT = ["export", "--model", "m.pt", "--format", "netx", "--out", "m.net"]
DEPLOY = ["deploy", "--model", "m.pt", "--backend", "torch", "--n", "2"]
ANALYZE = ["analyze", "shuffle", "--model", "m.pt", "--n", "2"]
RI = ["analyze", "ri-curve", "--model", "m.pt", "--n", "2", "--out", "ri.png"]

CASES = [
    # budgets and attack options
    ("craft-eps-overflow", CRAFT + ["--eps", "1e400"], "--eps"),
    ("craft-eps-nan", CRAFT + ["--eps", "nan"], "--eps"),
    ("craft-eps-inf", CRAFT + ["--eps", "inf"], "--eps"),
    ("craft-eps-text", CRAFT + ["--eps", "abc"], "--eps"),
    ("craft-eps-negative", CRAFT + ["--eps", "-0.1"], "--eps"),
    ("craft-eps-zero-denominator", CRAFT + ["--eps", "8/0"], "--eps"),
    ("craft-steps-huge", CRAFT + ["--eps", "0.1", "--steps", "1000000000"], "--steps"),
    ("craft-steps-zero", CRAFT + ["--eps", "0.1", "--steps", "0"], "--steps"),
    ("craft-steps-negative", CRAFT + ["--eps", "0.1", "--steps", "-3"], "--steps"),
    ("craft-steps-float", CRAFT + ["--eps", "0.1", "--steps", "2.5"], "--steps"),
    ("craft-steps-nan", CRAFT + ["--eps", "0.1", "--steps", "nan"], "--steps"),
    ("craft-alpha-nan", CRAFT + ["--eps", "0.1", "--alpha", "nan"], "alpha"),
    ("craft-alpha-overflow", CRAFT + ["--eps", "0.1", "--alpha", "1e400"], "alpha"),
    ("craft-n-zero", CRAFT + ["--eps", "0.1", "--n", "0"], "--n"),
    ("craft-n-negative", CRAFT + ["--eps", "0.1", "--n", "-1"], "--n"),
    ("craft-batch-zero", CRAFT + ["--eps", "0.1", "--batch-size", "0"], "--batch-size"),
    ("craft-batch-huge", CRAFT + ["--eps", "0.1", "--batch-size", "100000000"], "--batch-size"),
    ("craft-te-zero", CRAFT + ["--eps", "0.1", "--te", "0"], "time extension factor"),
    ("craft-eot-zero", CRAFT + ["--eps", "0.1", "--eot", "0"], "EOT draw count"),
    ("craft-seed-negative", CRAFT + ["--eps", "0.1", "--seed", "-1"], "--seed"),
    ("craft-attack-unknown", ["craft", "--model", "m.pt", "--attack", "rga-pdg", "--out", "a2.pt"], "rga-pdg"),
    ("craft-n-text", CRAFT + ["--n", "two"], "--n"),
    ("craft-opt-malformed", CRAFT + ["--eps", "0.1", "--opt", "nonsense"], "--opt"),
    ("evaluate-eval-batch-zero", EVAL + ["--eval-batch-size", "0"], "--eval-batch-size"),
    ("evaluate-eval-batch-negative", EVAL + ["--eval-batch-size", "-3"], "--eval-batch-size"),
    ("evaluate-both-sources", EVAL + ["--attack", "stbp-fgsm"], "either --adv"),
    ("evaluate-attack-eps-overflow", ["evaluate", "--model", "m.pt", "--attack", "stbp-fgsm", "--eps", "1e400"], "--eps"),
    ("evaluate-attack-steps-huge", EVAL_ATTACK + ["--steps", "1000000000"], "--steps"),
    # training
    ("train-lr-nan", TRAIN + ["--lr", "nan"], "--lr"),
    ("train-lr-inf", TRAIN + ["--lr", "inf"], "--lr"),
    ("train-lr-negative", TRAIN + ["--lr", "-1"], "--lr"),
    ("train-lr-zero", TRAIN + ["--lr", "0"], "--lr"),
    ("train-momentum-big", TRAIN + ["--momentum", "2"], "--momentum"),
    ("train-weight-decay-negative", TRAIN + ["--weight-decay", "-1"], "--weight-decay"),
    ("train-leak-zero", TRAIN + ["--leak", "0"], "leak"),
    ("train-leak-nan", TRAIN + ["--leak", "nan"], "--leak"),
    ("train-theta-zero", TRAIN + ["--theta", "0"], "theta"),
    ("train-gamma-negative", TRAIN + ["--gamma", "-1"], "gamma"),
    ("train-width-zero", TRAIN + ["--width", "0"], "--width"),
    ("train-width-nan", TRAIN + ["--width", "nan"], "--width"),
    ("train-width-huge", TRAIN + ["--width", "1e6"], "--width"),
    ("train-width-costly", TRAIN + ["--width", "500"], "--width 500"),
    ("train-T-zero", TRAIN + ["--T", "0"], "--T"),
    ("train-T-huge", TRAIN + ["--T", "1000000000"], "--T"),
    ("train-epochs-zero", TRAIN + ["--epochs", "0"], "--epochs"),
    ("train-epochs-huge", TRAIN + ["--epochs", "1000000000"], "--epochs"),
    ("train-batch-zero", TRAIN + ["--batch-size", "0"], "--batch-size"),
    ("train-dataset-unknown", TRAIN + ["--dataset", "imagenet"], "imagenet"),
    ("train-out-not-pt", TRAIN[:-1] + ["t.txt"], "*.pt"),
    # export, deploy, analyze
    ("export-input-scale-zero", EXPORT + ["--input-scale", "0"], "--input-scale"),
    ("export-input-scale-nan", EXPORT + ["--input-scale", "nan"], "--input-scale"),
    ("export-format-unknown", ["export", "--model", "m.pt", "--format", "tflite", "--out", "m.x"], "tflite"),
    ("deploy-n-zero", DEPLOY + ["--n", "0"], "--n"),
    ("deploy-input-scale-inf", DEPLOY + ["--input-scale", "inf"], "--input-scale"),
    ("deploy-seed-negative", DEPLOY + ["--seed", "-5"], "--seed"),
    ("analyze-runs-zero", ANALYZE + ["--runs", "0"], "--runs"),
    ("analyze-batch-zero", ANALYZE + ["--batch-size", "0"], "--batch-size"),
    ("ri-max-points-zero", RI + ["--max-points", "0"], "--max-points"),
    ("ri-beta-nan", RI + ["--beta", "nan"], "--beta"),
    ("ri-beta-negative", RI + ["--beta", "-2"], "--beta"),
    # demo: refused before its output folder is made
    ("demo-eps-text", ["demo", "--eps", "abc", "--out-dir", "demo-out"], "--eps"),
    ("demo-eps-overflow", ["demo", "--eps", "1e400", "--out-dir", "demo-out"], "--eps"),
    ("demo-n-zero", ["demo", "--n", "0", "--out-dir", "demo-out"], "--n"),
    ("demo-out-dir-is-file", ["demo", "--out-dir", "m.pt"], "is a file"),
    # the root command
    ("no-command", [], "a command is required"),
    ("unknown-command", ["attack"], "invalid choice"),
]


@pytest.mark.parametrize("case, argv, fragment", CASES, ids=[c[0] for c in CASES])
def test_hostile_argument_is_refused(case, argv, fragment, work: Path, capsys, monkeypatch) -> None:
    assert_refused(argv, work, fragment, capsys, monkeypatch)


def test_no_command_prints_one_usage_line(capsys) -> None:
    from snnsec.cli.main import main

    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "usage: snnsec" in err


def test_force_lifts_the_cost_bound_and_nothing_else() -> None:
    from snnsec.errors import InputError
    from snnsec.utils.schema import check_cost, check_model_meta, cost_bound_lifted

    with pytest.raises(InputError, match="pass --force"):
        check_cost("m.pt", 100_000, 500.0, [784])
    with cost_bound_lifted():
        check_cost("m.pt", 100_000, 500.0, [784])  # only logged
        with pytest.raises(InputError, match="meta.T"):  # types and ranges still hold
            check_model_meta({"arch": "vgg5", "num_classes": 10, "input_shape": [1, 28, 28], "T": -1}, "m.pt")
