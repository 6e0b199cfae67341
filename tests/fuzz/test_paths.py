"""No command can write onto one of its inputs (by name, through a symlink or a hard link), and
output paths are checked before any work: empty, a folder, under a file, unwritable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fuzz.hostile import assert_refused

# command -> (argv with OUT where the output goes, the input OUT will alias)
WRITERS = {
    "craft": (["craft", "--model", "m.pt", "--attack", "stbp-fgsm", "--eps", "0.1", "--n", "2", "--out", "OUT"], "m.pt"),
    "craft-substitute": (["craft", "--model", "m.pt", "--substitute", "sub.pt", "--attack", "stbp-fgsm", "--eps", "0.1",
                          "--n", "2", "--out", "OUT"], "sub.pt"),
    "evaluate": (["evaluate", "--model", "m.pt", "--attack", "stbp-fgsm", "--eps", "0.1", "--n", "2", "--out", "OUT"],
                 "m.pt"),
    "export-netx": (["export", "--model", "m.pt", "--format", "netx", "--out", "OUT"], "m.pt"),
    "export-onnx": (["export", "--model", "m.pt", "--format", "onnx", "--out", "OUT"], "m.pt"),
    "deploy-save-net": (["deploy", "--model", "m.pt", "--backend", "lava-sim", "--n", "2", "--save-net", "OUT"], "m.pt"),
    "deploy-save-net-adv": (["deploy", "--model", "m.pt", "--backend", "lava-sim", "--adv", "adv.pt",
                             "--save-net", "OUT"], "adv.pt"),
    "analyze-ri-curve": (["analyze", "ri-curve", "--model", "m.png", "--n", "2", "--out", "OUT"], "m.png"),
    "import": (["import", "--reference", "m.pt", "--arch", "vgg5", "--out", "OUT"], "m.pt"),
}
ALIASES = ("same", "dotted", "absolute", "symlink", "symlink-chain", "hardlink", "hardlink-in-subfolder")


def _alias(work: Path, target: str, how: str) -> str:
    if how == "same":
        return target
    if how == "dotted":
        (work / "sub").mkdir()
        return f"./sub/../{target}"
    if how == "absolute":
        return str(work / target)
    suffix = Path(target).suffix
    if how == "symlink":
        os.symlink(target, work / f"link{suffix}")
        return f"link{suffix}"
    if how == "symlink-chain":
        os.symlink(target, work / f"link1{suffix}")
        os.symlink(f"link1{suffix}", work / f"link2{suffix}")
        return f"link2{suffix}"
    if how == "hardlink":
        os.link(work / target, work / f"hard{suffix}")
        return f"hard{suffix}"
    (work / "d").mkdir()
    os.link(work / target, work / "d" / f"hard{suffix}")
    return f"d/hard{suffix}"


@pytest.mark.parametrize("how", ALIASES)
@pytest.mark.parametrize("command", sorted(WRITERS))
def test_no_command_writes_onto_its_input(command: str, how: str, work: Path, capsys, monkeypatch) -> None:
    argv, target = WRITERS[command]
    if target == "m.png":
        os.link(work / "m.pt", work / "m.png")
    out = _alias(work, target, how)
    argv = [out if a == "OUT" else a for a in argv]
    assert_refused(argv, work, "same", capsys, monkeypatch)


OUT_CASES = {
    "empty": ("", ("file path", "is ''")),
    "dot": (".", "file path"),
    "existing-folder": ("folder", "is a folder"),
    "folder-symlink": ("folder-link", "is a folder"),
    "under-a-file": ("m.pt/x.pt", "not a folder"),
    "device": ("/dev/null", "not a regular file"),
}
OUT_COMMANDS = {
    "craft": ["craft", "--model", "m.pt", "--attack", "stbp-fgsm", "--eps", "0.1", "--n", "2", "--out", "OUT"],
    "train": ["train", "--arch", "vgg5", "--width", "0.125", "--T", "2", "--epochs", "1", "--out", "OUT"],
    "export": ["export", "--model", "m.pt", "--format", "onnx", "--out", "OUT"],
    "evaluate": ["evaluate", "--model", "m.pt", "--attack", "stbp-fgsm", "--eps", "0.1", "--n", "2", "--out", "OUT"],
    "deploy": ["deploy", "--model", "m.pt", "--backend", "lava-sim", "--n", "2", "--save-net", "OUT"],
}


@pytest.mark.parametrize("case", sorted(OUT_CASES))
@pytest.mark.parametrize("command", sorted(OUT_COMMANDS))
def test_bad_output_path_is_refused_before_any_work(command: str, case: str, work: Path, capsys, monkeypatch) -> None:
    (work / "folder").mkdir()
    os.symlink("folder", work / "folder-link")
    text, fragment = OUT_CASES[case]
    argv = [text if a == "OUT" else a for a in OUT_COMMANDS[command]]
    assert_refused(argv, work, fragment, capsys, monkeypatch)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
@pytest.mark.parametrize("command", sorted(OUT_COMMANDS))
def test_read_only_output_folder_is_refused_before_any_work(command: str, work: Path, capsys, monkeypatch) -> None:
    ro = work / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        argv = ["ro/x.pt" if a == "OUT" else a for a in OUT_COMMANDS[command]]
        assert_refused(argv, work, "not writable", capsys, monkeypatch)
    finally:
        ro.chmod(0o700)
