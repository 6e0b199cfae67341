"""``--device``: ``cuda`` without CUDA is one line and exit 2 on every command that has the flag;
``auto`` falls back to the CPU and gives the CPU's results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from snnsec.errors import InputError
from snnsec.utils.device import resolve_device
from tests.scale.conftest import in_process, run, snnsec_cmd

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour without a CUDA device")


def test_resolution_rules() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(InputError, match=r"unknown device 'tpu'; choose one of: auto, cpu, cuda, cuda:N"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")
        assert resolve_device(None) == torch.device("cpu")
        for name in ("cuda", "cuda:0", "cuda:3"):
            with pytest.raises(InputError, match="torch sees no CUDA device"):
                resolve_device(name)
    else:
        assert resolve_device("auto").type == "cuda"
        with pytest.raises(InputError, match="CUDA device"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")


@pytest.mark.parametrize(("gpus", "ranks", "spec", "expect"), [
    (2, "2", "auto", "cuda:1"),
    (2, "2", "cuda", "cuda:1"),
    (4, "2", "auto", "cuda:1"),
    (1, "2", "auto", "torchrun started 2 ranks on this node but torch sees 1 CUDA device(s), and each rank needs "
                     "its own GPU; use --nproc-per-node 1 or --device cpu"),
    (1, "2", "cuda", "torchrun started 2 ranks"),
    (2, "2", "cuda:0", "device 'cuda:0' would put all 2 torchrun ranks of this node on one GPU; use --device cuda"),
    (1, "1", "cuda:0", "cuda:0"),
])
def test_torchrun_ranks_get_a_gpu_each_or_one_line(gpus: int, ranks: str, spec: str, expect: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Rank 1 of a torchrun node: cuda:LOCAL_RANK when the node has a GPU per rank, else one line
    (nccl cannot put two ranks on one GPU). CUDA cannot run here, so torch is told how many GPUs
    it sees; tests/scale/test_cuda.py checks the refusal against a real GPU."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setenv("LOCAL_RANK", str(int(ranks) - 1))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", ranks)
    if expect.startswith("cuda:"):
        assert resolve_device(spec) == torch.device(expect)
    else:
        with pytest.raises(InputError) as err:
            resolve_device(spec)
        assert str(err.value).startswith(expect) and "\n" not in str(err.value)


@no_cuda
@pytest.mark.parametrize("command", [
    ["train", "--epochs", "1"],
    ["craft", "--attack", "rga-fgsm", "--n", "2"],
    ["evaluate", "--attack", "rga-fgsm", "--n", "2"],
    ["analyze", "shuffle", "--n", "2"],
    ["deploy", "--backend", "torch", "--n", "2"],
    ["demo", "--n", "2"],
])
def test_cuda_without_cuda_fails_in_one_line(command: list[str], tiny_model: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from snnsec.cli.main import main

    args = [*command, "--device", "cuda"]
    if command[0] in ("craft", "evaluate", "analyze", "deploy"):
        args += ["--model", str(tiny_model)]
    if command[0] in ("train", "craft"):
        args += ["--out", str(tmp_path / "out.pt")]
    if command[0] == "demo":
        args += ["--out-dir", str(tmp_path / "demo")]
    assert main([*args, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "snnsec: error: device 'cuda' requested but torch sees no CUDA device; use --device cpu or auto"
    assert not (tmp_path / "out.pt").exists()


@no_cuda
def test_auto_falls_back_to_the_cpu_with_the_cpu_bytes(tiny_model: Path, tmp_path: Path) -> None:
    """``auto`` in a fresh process (nothing there has touched CUDA yet); the ``--device cpu``
    file and ``env`` come from the same CLI run in this process."""
    outs = {}
    for device in ("auto", "cpu"):
        out = tmp_path / f"adv-{device}.pt"
        args = ["craft", "--model", str(tiny_model), "--attack", "rga-fgsm", "--n", "6", "--batch-size", "3",
                "--device", device, "--out", str(out), "--json", "--quiet"]
        r = run(snnsec_cmd(*args), cwd=tmp_path) if device == "auto" else in_process(args)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["n"] == 6
        outs[device] = out.read_bytes()
    assert outs["auto"] == outs["cpu"]
    info = json.loads(in_process(["env", "--json"]).stdout)
    assert info["device"] == "cpu" and info["cuda_devices"] == []


@pytest.mark.parametrize(("command", "message"), [
    (["evaluate", "--suite", "reliable", "--n", "2"],
     "`snnsec evaluate --suite` does not shard across ranks (WORLD_SIZE=2); run it in one process"),
    (["evaluate", "--attack", "rga-fgsm", "--n", "2"], "evaluate across torchrun ranks needs --out"),
    (["deploy", "--backend", "torch"], "deploy across torchrun ranks needs --out FILE.json"),
])
def test_unsharded_commands_refuse_several_ranks(command: list[str], message: str, tiny_model: Path,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The suite does not shard; evaluate and deploy shard only with --out (their <out>.partial/).
    Each rank refuses before writing anything. (That a failing rank fails the whole torchrun run
    is test_shard_deploy's test_one_failing_rank_stops_every_rank, with real ranks.)"""
    from snnsec.cli.main import main

    monkeypatch.setenv("WORLD_SIZE", "2")  # what torchrun sets in each of 2 ranks
    monkeypatch.chdir(tmp_path)
    assert main([*command, "--model", str(tiny_model), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"snnsec: error: {message}")
    assert len(err.splitlines()) == 1
    assert not list(tmp_path.iterdir())
