"""Hostile model and adversarial files: every one refused at the door (see hostile.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.hostile import ADV_CASES, MODEL_CASES, assert_refused, load_plain, write

MODEL_COMMANDS = {
    "export": ["export", "--model", "m.pt", "--format", "netx", "--out", "m.net"],
    "evaluate": ["evaluate", "--model", "m.pt", "--adv", "adv.pt"],
    "craft": ["craft", "--model", "m.pt", "--attack", "stbp-fgsm", "--eps", "0.1", "--n", "2", "--out", "a2.pt"],
}
ADV_COMMANDS = {
    "evaluate": ["evaluate", "--model", "m.pt", "--adv", "adv.pt"],
    "deploy": ["deploy", "--model", "m.pt", "--backend", "torch", "--adv", "adv.pt"],
}


@pytest.mark.parametrize("command", sorted(MODEL_COMMANDS))
@pytest.mark.parametrize("case, mutate, fragment", MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def test_hostile_model_file_is_refused(case, mutate, fragment, command, work: Path, capsys, monkeypatch) -> None:
    write(work / "m.pt", mutate(load_plain(work / "m.pt"), work))
    line = assert_refused(MODEL_COMMANDS[command], work, fragment, capsys, monkeypatch)
    assert "m.pt" in line  # the message names the file
    assert "weights_only" not in line


@pytest.mark.parametrize("command", sorted(ADV_COMMANDS))
@pytest.mark.parametrize("case, mutate, fragment", ADV_CASES, ids=[c[0] for c in ADV_CASES])
def test_hostile_adversarial_file_is_refused(case, mutate, fragment, command, work: Path, capsys, monkeypatch) -> None:
    write(work / "adv.pt", mutate(load_plain(work / "adv.pt"), work))
    line = assert_refused(ADV_COMMANDS[command], work, fragment, capsys, monkeypatch)
    assert "adv.pt" in line
    assert "weights_only" not in line


def test_good_files_pass(work: Path, capsys, monkeypatch) -> None:
    """The unmutated files are accepted, so the refusals above are about the mutations."""
    from snnsec.cli.main import main

    monkeypatch.chdir(work)
    assert main(ADV_COMMANDS["evaluate"] + ["--json"]) == 0, capsys.readouterr().err
    assert main(ADV_COMMANDS["deploy"] + ["--json"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("command", sorted(ADV_COMMANDS))
def test_a_file_crafted_for_another_model_is_reported(command: str, work: Path, capsys, monkeypatch) -> None:
    """evaluate and deploy both warn (and still report transfer) when the file names another model."""
    from snnsec.cli.main import main

    payload = load_plain(work / "adv.pt")
    payload["meta"]["model_sha256"] = "0" * 64
    write(work / "adv.pt", payload)
    monkeypatch.chdir(work)
    assert main(ADV_COMMANDS[command] + ["--json"]) == 0
    err = capsys.readouterr().err
    assert "crafted for another model file" in err
