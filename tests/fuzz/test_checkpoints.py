"""Hostile training checkpoints (``<out>.ckpt``, read when ``snnsec train`` resumes): refused in
one line before training, the checkpoint left as it was."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
import torch

from tests.fuzz.hostile import MARKER, Payload, assert_refused

TRAIN = ["train", "--arch", "vgg5", "--width", "0.125", "--T", "2", "--epochs", "1", "--out", "t.pt"]


def _checkpoint() -> dict:
    """A checkpoint shaped like the one `snnsec train` (TRAIN above) writes after epoch 0."""
    from snnsec.models import build_model
    from snnsec.training import Recipe

    model = build_model("vgg5", num_classes=10, input_shape=(1, 28, 28), T=2, width=0.125)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    return {"epoch": 0, "recipe": dataclasses.asdict(Recipe(epochs=1, lr=2e-3)), "model": model.state_dict(),
            "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "generator": torch.Generator().get_state(), "rng": torch.get_rng_state(), "history": []}


def _nan(c):
    key = next(k for k in c["model"] if k.endswith("weight"))
    c["model"][key] = torch.full_like(c["model"][key], float("nan"))
    return c


def _drop_weight(c):
    del c["model"][next(k for k in c["model"] if k.endswith("weight"))]
    return c


def _truncated(c):
    buf = io.BytesIO()
    torch.save(c, buf)
    return buf.getvalue()[:100]


CASES = [
    ("payload", lambda c, f: {**c, "history": [Payload(str(f / MARKER))]}, "refused to load"),
    ("truncated", lambda c, f: _truncated(c), "cannot read"),
    ("empty", lambda c, f: b"", "cannot read"),
    ("list", lambda c, f: [1, 2], "expected a dict"),
    ("missing-model", lambda c, f: {k: v for k, v in c.items() if k != "model"}, "'model'"),
    ("extra-key", lambda c, f: {**c, "exploit": 1}, "exploit"),
    ("epoch-negative", lambda c, f: {**c, "epoch": -1}, "epoch"),
    ("epoch-string", lambda c, f: {**c, "epoch": "0"}, "epoch"),
    ("epoch-beyond", lambda c, f: {**c, "epoch": 99}, "epoch"),
    ("weights-nan", lambda c, f: _nan(c), "finite"),
    ("weights-missing", lambda c, f: _drop_weight(c), "missing"),
    ("generator-float", lambda c, f: {**c, "generator": torch.zeros(10)}, "generator"),
    ("history-string", lambda c, f: {**c, "history": "none"}, "history"),
    ("optimizer-list", lambda c, f: {**c, "optimizer": [1]}, "optimizer"),
    ("other-recipe", lambda c, f: {**c, "recipe": {**c["recipe"], "lr": 0.5}}, "another recipe"),
]


@pytest.mark.parametrize("case, mutate, fragment", CASES, ids=[c[0] for c in CASES])
def test_hostile_checkpoint_is_refused(case, mutate, fragment, work: Path, capsys, monkeypatch) -> None:
    data = mutate(_checkpoint(), work)
    if isinstance(data, bytes):
        (work / "t.pt.ckpt").write_bytes(data)
    else:
        torch.save(data, work / "t.pt.ckpt")
    line = assert_refused(TRAIN, work, fragment, capsys, monkeypatch)
    assert "t.pt.ckpt" in line


PARTIAL_CASES = [
    ("run-json-list", "[1, 2]"),
    ("run-json-string", '"fingerprint"'),
    ("run-json-garbage", "{not json"),
    ("run-json-other-run", '{"fingerprint": "0000"}'),
]


@pytest.mark.parametrize("case, text", PARTIAL_CASES, ids=[c[0] for c in PARTIAL_CASES])
def test_hostile_craft_partial_folder_is_refused(case, text, work: Path, capsys, monkeypatch) -> None:
    """`craft` resumes from <out>.partial/; a run.json that is not its own run is refused, not crashed on."""
    partial = work / "a2.pt.partial"
    partial.mkdir()
    (partial / "run.json").write_text(text)
    argv = ["craft", "--model", "m.pt", "--attack", "stbp-fgsm", "--eps", "0.1", "--n", "2", "--out", "a2.pt"]
    assert_refused(argv, work, "unfinished run", capsys, monkeypatch)
