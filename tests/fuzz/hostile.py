"""Hostile files and the one check every fuzz case makes.

A case runs one ``snnsec`` command in-process inside its own folder and asserts what the README
promises for bad input: exit 2, exactly one stderr line that names the problem, no traceback, no
marker file from a payload, no new file left behind, and every input byte-identical afterwards.
"""

from __future__ import annotations

import copy
import hashlib
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

MARKER = "PWNED"


class Payload:
    """Unpickling this (with a plain unpickler) creates the marker file: code execution."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` -> a hash of its bytes ("dir" for folders, the
    target for symlinks)."""
    out: dict[str, str] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            p = Path(root, name)
            out[str(p.relative_to(folder))] = f"link:{os.readlink(p)}" if p.is_symlink() else "dir"
        for name in files:
            p = Path(root, name)
            if p.is_symlink():
                out[str(p.relative_to(folder))] = f"link:{os.readlink(p)}"
            else:
                out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def assert_refused(argv: list[str], folder: Path, fragment: str | tuple[str, ...], capsys: Any,
                   monkeypatch: Any) -> str:
    """Run ``snnsec <argv>`` in ``folder``; assert the refusal contract. Returns the stderr line."""
    from snnsec.cli.main import main

    monkeypatch.chdir(folder)
    before = snapshot(folder)
    capsys.readouterr()
    import warnings

    with warnings.catch_warnings(record=True) as caught:  # the CLI would print each one on stderr
        warnings.simplefilter("always")
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code
    shown = [w for w in caught if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
    assert not shown, f"warnings on stderr: {[str(w.message)[:200] for w in shown]}"
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"exit {code}, stderr: {err[-2000:]}"
    assert "Traceback" not in err
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}: {err[-2000:]}"
    fragments = (fragment,) if isinstance(fragment, str) else fragment
    assert any(f.lower() in lines[0].lower() for f in fragments), f"{fragments} not in: {lines[0]}"
    assert not (folder / MARKER).exists(), "a payload ran"
    after = snapshot(folder)
    assert after == before, f"files changed: {sorted(set(after.items()) ^ set(before.items()))[:6]}"
    return lines[0]


def load_plain(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


def write(path: Path, obj: Any) -> None:
    if isinstance(obj, bytes):
        path.write_bytes(obj)
    else:
        torch.save(obj, path)


# -- model file mutations: (id, mutate(payload, folder) -> payload or bytes, fragment) --------
def _meta(field: str, value: Any) -> Callable[[dict[str, Any], Path], Any]:
    def mutate(p: dict[str, Any], folder: Path) -> Any:
        p["meta"][field] = value
        return p

    return mutate


def _meta_del(field: str) -> Callable[[dict[str, Any], Path], Any]:
    def mutate(p: dict[str, Any], folder: Path) -> Any:
        del p["meta"][field]
        return p

    return mutate


def _sub(field: str, key: str, value: Any) -> Callable[[dict[str, Any], Path], Any]:
    def mutate(p: dict[str, Any], folder: Path) -> Any:
        p["meta"][field] = copy.deepcopy(p["meta"][field]) if p["meta"][field] is not None else {}
        p["meta"][field][key] = value
        return p

    return mutate


def _top(key: str, value: Any = None, delete: bool = False) -> Callable[[dict[str, Any], Path], Any]:
    def mutate(p: dict[str, Any], folder: Path) -> Any:
        if delete:
            del p[key]
        else:
            p[key] = value
        return p

    return mutate


def _weights(kind: str) -> Callable[[dict[str, Any], Path], Any]:
    def mutate(p: dict[str, Any], folder: Path) -> Any:
        sd = p["state_dict"]
        weight = next(k for k in sd if k.endswith("weight") and sd[k].dim() == 4)
        var = next(k for k in sd if k.endswith("running_var"))
        if kind in ("nan", "inf", "-inf"):
            sd[weight] = sd[weight].clone()
            sd[weight].view(-1)[3] = float(kind)
        elif kind == "negvar":
            sd[var] = sd[var].clone()
            sd[var][0] = -1.0
        elif kind == "missing":
            del sd[weight]
        elif kind == "extra":
            sd["body.999.weight"] = torch.zeros(3)
        elif kind == "shape":
            sd[weight] = torch.zeros(sd[weight].shape[0] + 1, *sd[weight].shape[1:])
        elif kind == "not-tensor":
            sd[weight] = 1.5
        elif kind == "string":
            sd[weight] = "weights"
        elif kind == "nan-bias":
            key = next(k for k in sd if k.endswith("bias") and sd[k].is_floating_point())
            sd[key] = torch.full_like(sd[key], float("nan"))
        elif kind == "negcount":
            key = next(k for k in sd if k.endswith("num_batches_tracked"))
            sd[key] = torch.tensor(-5)
        return p

    return mutate


def _bytes(data: bytes) -> Callable[[dict[str, Any], Path], Any]:
    return lambda p, folder: data


def _truncated(p: dict[str, Any], folder: Path) -> bytes:
    import io

    buf = io.BytesIO()
    torch.save(p, buf)
    return buf.getvalue()[: len(buf.getvalue()) // 2]


def _payload_in_weights(p: dict[str, Any], folder: Path) -> Any:
    p["state_dict"]["evil"] = Payload(str(folder / MARKER))
    return p


def _payload_in_meta(p: dict[str, Any], folder: Path) -> Any:
    p["meta"]["recipe"] = {"x": Payload(str(folder / MARKER))}
    return p


def _plain_pickle(p: dict[str, Any], folder: Path) -> bytes:
    return pickle.dumps({"format": "snnsec-model", "evil": Payload(str(folder / MARKER))})


MODEL_CASES: list[tuple[str, Callable[[dict[str, Any], Path], Any], str | tuple[str, ...]]] = [
    # class 2/3: metadata of the wrong type or range
    ("T-negative", _meta("T", -1), "meta.T"),
    ("T-zero", _meta("T", 0), "meta.T"),
    ("T-string", _meta("T", "4"), "meta.T"),
    ("T-float", _meta("T", 2.5), "meta.T"),
    ("T-bool", _meta("T", True), "meta.T"),
    ("T-null", _meta("T", None), "meta.T"),
    ("T-huge", _meta("T", 10**12), "meta.T"),
    ("T-costly", _meta("T", 100_000), ("memory", "meta.T")),
    ("width-zero", _meta("width", 0.0), "meta.width"),
    ("width-negative", _meta("width", -1.0), "meta.width"),
    ("width-nan", _meta("width", float("nan")), "meta.width"),
    ("width-string", _meta("width", "1"), "meta.width"),
    ("width-huge", _meta("width", 1e9), "meta.width"),
    ("width-costly", _meta("width", 500.0), "memory"),
    ("classes-zero", _meta("num_classes", 0), "meta.num_classes"),
    ("classes-one", _meta("num_classes", 1), "meta.num_classes"),
    ("classes-string", _meta("num_classes", "10"), "meta.num_classes"),
    ("classes-float", _meta("num_classes", 10.0), "meta.num_classes"),
    ("classes-mismatch", _meta("num_classes", 7), ("class_names", "weights")),
    ("shape-string", _meta("input_shape", "1,28,28"), "meta.input_shape"),
    ("shape-string-item", _meta("input_shape", [1, 28, "28"]), "meta.input_shape"),
    ("shape-short", _meta("input_shape", [1, 28]), "meta.input_shape"),
    ("shape-empty", _meta("input_shape", []), "meta.input_shape"),
    ("shape-zero", _meta("input_shape", [1, 0, 28]), "meta.input_shape"),
    ("shape-negative", _meta("input_shape", [1, -28, 28]), "meta.input_shape"),
    ("shape-huge", _meta("input_shape", [1, 60000, 60000]), "meta.input_shape"),
    ("shape-other", _meta("input_shape", [3, 32, 32]), "weights do not match"),
    ("norm-std-zero", _sub("normalization", "std", [0.0]), "meta.normalization.std"),
    ("norm-std-negative", _sub("normalization", "std", [-0.3]), "meta.normalization.std"),
    ("norm-std-nan", _sub("normalization", "std", [float("nan")]), "meta.normalization.std"),
    ("norm-std-string", _sub("normalization", "std", "0.3"), "meta.normalization.std"),
    ("norm-std-long", _sub("normalization", "std", [0.3] * 5), "meta.normalization.std"),
    ("norm-mean-inf", _sub("normalization", "mean", [float("inf")]), "meta.normalization.mean"),
    ("norm-not-mapping", _meta("normalization", [0.1, 0.3]), "meta.normalization"),
    ("norm-extra-key", _sub("normalization", "scale", [2.0]), "meta.normalization"),
    ("classnames-3", _meta("class_names", ["a", "b", "c"]), "meta.class_names"),
    ("classnames-string", _meta("class_names", "0123456789"), "meta.class_names"),
    ("classnames-ints", _meta("class_names", list(range(10))), "meta.class_names"),
    ("classnames-duplicate", _meta("class_names", ["a"] * 10), "meta.class_names"),
    ("neuron-leak-big", _sub("neuron", "leak", 2.0), "leak"),
    ("neuron-leak-string", _sub("neuron", "leak", "0.5"), "meta.neuron.leak"),
    ("neuron-theta-zero", _sub("neuron", "theta", 0.0), "theta"),
    ("neuron-theta-nan", _sub("neuron", "theta", float("nan")), "meta.neuron.theta"),
    ("neuron-reset-unknown", _sub("neuron", "reset", "bounce"), "reset"),
    ("neuron-unknown-key", _sub("neuron", "tau_syn", 2.0), "meta.neuron"),
    ("neuron-not-mapping", _meta("neuron", 5), "meta.neuron"),
    ("encoder-unknown", _meta("encoder", "morse"), "meta.encoder"),
    ("encoder-int", _meta("encoder", 3), "meta.encoder"),
    ("encoder-frames", _meta("encoder", "frames"), "meta.input_shape"),
    ("arch-unknown", _meta("arch", "vgg99"), "meta.arch"),
    ("arch-int", _meta("arch", 5), "meta.arch"),
    ("accuracy-big", _meta("test_accuracy", 5.0), "meta.test_accuracy"),
    ("accuracy-string", _meta("test_accuracy", "high"), "meta.test_accuracy"),
    ("layout-future", _meta("layout", 99), "layout"),
    ("recipe-list", _meta("recipe", [1, 2]), "meta.recipe"),
    ("dataset-int", _meta("dataset", 7), "meta.dataset"),
    ("version-int", _meta("snnsec_version", 1), "meta.snnsec_version"),
    ("meta-unknown-key", _meta("backdoor", 1), "backdoor"),
    ("meta-missing-T", _meta_del("T"), "'T'"),
    ("meta-missing-arch", _meta_del("arch"), "'arch'"),
    ("meta-missing-shape", _meta_del("input_shape"), "'input_shape'"),
    # class 3: the file's structure
    ("meta-missing", _top("meta", delete=True), "'meta'"),
    ("meta-string", _top("meta", "vgg5"), "meta"),
    ("meta-null", _top("meta", None), "meta"),
    ("state-missing", _top("state_dict", delete=True), "'state_dict'"),
    ("state-string", _top("state_dict", "weights"), "state_dict"),
    ("top-extra-key", _top("exploit", 1), "exploit"),
    ("format-other", _top("format", "snnsec-adversarial"), "format"),
    ("format-version", _top("format_version", 7), "version"),
    # class 2: weights
    ("weights-nan", _weights("nan"), ("state_dict", "finite")),
    ("weights-inf", _weights("inf"), ("state_dict", "finite")),
    ("weights-neg-inf", _weights("-inf"), ("state_dict", "finite")),
    ("weights-nan-bias", _weights("nan-bias"), ("state_dict", "finite")),
    ("bn-negative-variance", _weights("negvar"), "variance"),
    ("bn-negative-count", _weights("negcount"), "num_batches_tracked"),
    ("weights-missing-key", _weights("missing"), "missing"),
    ("weights-extra-key", _weights("extra"), "unexpected"),
    ("weights-wrong-shape", _weights("shape"), "shape"),
    ("weights-not-tensor", _weights("not-tensor"), "a tensor"),
    ("weights-string", _weights("string"), "a tensor"),
    # never unpickle objects; never a torch hint
    ("payload-in-weights", _payload_in_weights, "refused to load"),
    ("payload-in-meta", _payload_in_meta, "refused to load"),
    ("plain-pickle", _plain_pickle, ("refused", "cannot read")),
    ("truncated", _truncated, "cannot read"),
    ("empty-file", _bytes(b""), "cannot read"),
    ("text-file", _bytes(b"just text\n"), "cannot read"),
    ("json-file", _bytes(b'{"format": "snnsec-model"}'), "cannot read"),
    ("zip-garbage", _bytes(b"PK\x03\x04" + b"\x00" * 64), "cannot read"),
    ("list-payload", lambda p, folder: [1, 2, 3], "expected a dict"),
]


# -- adversarial file mutations ---------------------------------------------------------------
def _adv(key: str, make: Callable[[dict[str, Any]], Any] | None = None, delete: bool = False
         ) -> Callable[[dict[str, Any], Path], Any]:
    def mutate(p: dict[str, Any], folder: Path) -> Any:
        if delete:
            del p[key]
        else:
            p[key] = make(p)
        return p

    return mutate


def _adv_meta(key: str, value: Any) -> Callable[[dict[str, Any], Path], Any]:
    def mutate(p: dict[str, Any], folder: Path) -> Any:
        p["meta"] = dict(p["meta"], **{key: value})
        return p

    return mutate


def _poke(t: torch.Tensor, value: float) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[5] = value
    return t


def _adv_payload(p: dict[str, Any], folder: Path) -> Any:
    p["meta"] = {"attack": Payload(str(folder / MARKER))}
    return p


ADV_CASES: list[tuple[str, Callable[[dict[str, Any], Path], Any], str | tuple[str, ...]]] = [
    ("x-nan", _adv("x", lambda p: _poke(p["x"], float("nan"))), "x is"),
    ("x-adv-nan", _adv("x_adv", lambda p: _poke(p["x_adv"], float("nan"))), "x_adv"),
    ("x-adv-inf", _adv("x_adv", lambda p: _poke(p["x_adv"], float("inf"))), "x_adv"),
    ("x-adv-neg-inf", _adv("x_adv", lambda p: _poke(p["x_adv"], float("-inf"))), "x_adv"),
    ("x-adv-above-domain", _adv("x_adv", lambda p: _poke(p["x_adv"], 1.5)), "domain"),
    ("x-below-domain", _adv("x", lambda p: _poke(p["x"], -0.5)), "domain"),
    ("x-adv-huge", _adv("x_adv", lambda p: _poke(p["x_adv"], 3e38)), "domain"),
    ("label-too-big", _adv("y", lambda p: torch.tensor([3, 10])), "label 10"),
    ("label-way-too-big", _adv("y", lambda p: torch.tensor([3, 2**40])), "labels in"),
    ("label-negative", _adv("y", lambda p: torch.tensor([3, -1])), "y is"),
    ("label-float", _adv("y", lambda p: p["y"].float()), "y is"),
    ("label-bool", _adv("y", lambda p: p["y"] > 0), "y is"),
    ("label-2d", _adv("y", lambda p: p["y"][:, None]), "y is"),
    ("label-short", _adv("y", lambda p: p["y"][:1]), "y is"),
    ("label-string", _adv("y", lambda p: "3,7"), "y is"),
    ("index-float", _adv("index", lambda p: p["index"].float()), "index"),
    ("index-negative", _adv("index", lambda p: torch.tensor([0, -4])), "index"),
    ("empty-set", lambda p, f: {**p, "x": p["x"][:0], "x_adv": p["x_adv"][:0], "y": p["y"][:0],
                                "index": p["index"][:0]}, "at least one sample"),
    ("x-string", _adv("x", lambda p: "pixels"), "x is"),
    ("x-int", _adv("x", lambda p: (p["x"] * 255).to(torch.uint8)), "x is"),
    ("x-1d", _adv("x", lambda p: p["x"].flatten()), "x is"),
    ("x-shape-mismatch", _adv("x_adv", lambda p: p["x_adv"][:, :, :20]), "x_adv"),
    ("x-other-model-shape", lambda p, f: {**p, "x": torch.rand(2, 3, 32, 32), "x_adv": torch.rand(2, 3, 32, 32)},
     ("shape", "holds inputs")),
    ("missing-x-adv", _adv("x_adv", delete=True), "'x_adv'"),
    ("missing-y", _adv("y", delete=True), "'y'"),
    ("missing-index", _adv("index", delete=True), "'index'"),
    ("extra-key", _adv("exploit", lambda p: 1), "exploit"),
    ("meta-string", _adv("meta", lambda p: "config"), "meta is"),
    ("meta-list", _adv("meta", lambda p: [1, 2]), "meta is"),
    ("meta-attack-int", _adv_meta("attack", 5), "meta.attack"),
    ("meta-eps-list", _adv_meta("eps", [0.1]), "meta.eps"),
    ("meta-sha-int", _adv_meta("model_sha256", 12345), "meta.model_sha256"),
    ("meta-blackbox-string", _adv_meta("black_box", "yes"), "meta.black_box"),
    ("meta-model-T-negative", _adv_meta("model_T", -1), "meta.model_T"),
    ("meta-seed-float", _adv_meta("seed", 0.5), "meta.seed"),
    ("format-model", _adv("format", lambda p: "snnsec-model"), "format"),
    ("format-version", _adv("format_version", lambda p: 9), "version"),
    ("payload", _adv_payload, "refused to load"),
    ("truncated", _truncated, "cannot read"),
    ("empty-file", _bytes(b""), "cannot read"),
]
