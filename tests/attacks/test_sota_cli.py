"""``snnsec evaluate --suite reliable``: the ensemble from the command line, budgeted and resumable."""

from __future__ import annotations

import json

import pytest

from snnsec.cli.main import main
from snnsec.evaluation.reliable import RELIABLE_SUITE
from snnsec.utils.io import sha256_file


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_evaluate_suite_reliable_writes_the_row(demo_model_path, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "row.json"
    budget = len(RELIABLE_SUITE)  # one gradient evaluation per attack
    code, stdout, _ = run(["evaluate", "--model", str(demo_model_path), "--suite", "reliable", "--eps", "0.1",
                           "--n", "12", "--batch-size", "6", "--budget", str(budget), "--out", str(out),
                           "--json", "--quiet"], capsys)
    assert code == 0
    row = json.loads(stdout)
    assert row == json.loads(out.read_text())
    assert row["model_sha256"] == sha256_file(demo_model_path) and row["dataset"] == "mnist5k"
    assert row["eps"] == "0.1" and row["n"] == 12 and row["budget"] == budget
    assert [a["attack"] for a in row["attacks"]] == [a.attack for a in RELIABLE_SUITE]
    assert all(a["steps"] == 1 for a in row["attacks"])
    assert row["robust_accuracy"] <= row["clean_accuracy"]
    assert "warnings" in row["masking"]
    assert not out.with_name("row.json.partial").exists()


def test_evaluate_suite_refuses_an_attack_beside_it_and_a_bad_budget(demo_model_path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(["evaluate", "--model", str(demo_model_path), "--suite", "reliable", "--attack", "rga-pgd"], capsys)
    assert code == 2 and "--suite" in err
    code, _, err = run(["evaluate", "--model", str(demo_model_path), "--suite", "reliable", "--budget", "0", "--n", "2"], capsys)
    assert code == 2 and "budget must be a positive number" in err
    code, _, err = run(["evaluate", "--model", str(demo_model_path), "--suite", "strongest"], capsys)
    assert code == 2 and "reliable" in err
