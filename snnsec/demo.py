"""The main job on embedded data: train -> attack -> deploy on Lava -> transfer report.

1. Train a small spiking VGG (vgg5, T=4, IF neurons) on the 4,000 MNIST-5k training digits, or
   reuse the copy cached under the user cache directory.
2. Craft STBP and RGA attacks (FGSM and PGD) on 100 held-out digits.
3. Replay clean and adversarial digits on Lava's CPU simulator in bit-accurate Loihi 2 fixed
   point, all through one runtime.
4. Print a transfer table and write ``report.md``, ``report.json`` and ``transfer.png``.

Every stage resumes: the model and each adversarial file are reused when they match the
configuration, and an interrupted attack continues from its finished batches.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from snnsec.utils.cache import cache_dir

log = logging.getLogger(__name__)

DEMO_MODEL = {"arch": "vgg5", "T": 4, "leak": 1.0, "reset": "hard", "width": 1.0}
DEMO_RECIPE = {"epochs": 3, "batch_size": 64, "optimizer": "adam", "lr": 2e-3, "seed": 0}
DEMO_ATTACKS = ("stbp-fgsm", "rga-fgsm", "stbp-pgd", "rga-pgd")
DEMO_EPS = "0.2"  # L-inf budget on [0, 1] pixels; PGD: alpha = eps/4, 5 steps, random start
DEMO_N = 100


def demo_model_path() -> Path:
    from snnsec import __version__

    key = json.dumps({"model": DEMO_MODEL, "recipe": DEMO_RECIPE, "v": __version__}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return cache_dir() / "models" / f"vgg5-mnist5k-{digest}.pt"


def demo_model(retrain: bool = False, device: str = "auto") -> tuple[Path, bool]:
    """Path of the cached demo model, training it first if needed. Returns (path, trained_now)."""
    from snnsec.data import get_dataset
    from snnsec.errors import InputError
    from snnsec.models import build_model, load_model, save_model
    from snnsec.neurons import NeuronParameters
    from snnsec.training import Recipe, train
    from snnsec.utils.seeding import seed_everything

    path = demo_model_path()
    if path.is_file() and not retrain:
        try:
            load_model(path)
            return path, False
        except InputError as exc:
            log.warning("cached demo model unusable (%s); training again", exc)
    ds = get_dataset("mnist5k")
    seed_everything(DEMO_RECIPE["seed"])  # the initial weights too
    model = build_model(
        DEMO_MODEL["arch"], num_classes=10, input_shape=ds.sample_shape(), T=DEMO_MODEL["T"],
        neuron=NeuronParameters(leak=DEMO_MODEL["leak"], reset=DEMO_MODEL["reset"]),
        width=DEMO_MODEL["width"], dataset=ds.name, class_names=list(ds.classes),
    )
    recipe = Recipe(**DEMO_RECIPE)
    log.info("training the demo model (vgg5 on MNIST-5k); cached at %s", path)
    from snnsec.utils.device import resolve_device

    result = train(model, ds.split("train"), ds.split("test"), recipe, checkpoint=path.with_suffix(".ckpt"),
                   device=resolve_device(device))
    model.meta.recipe = dict(DEMO_RECIPE)
    model.meta.test_accuracy = result.test_accuracy
    save_model(model, path)
    path.with_suffix(".ckpt").unlink(missing_ok=True)
    return path, True


def demo_attacks(model_path: Path, out_dir: Path, n: int, eps: str, attacks: tuple[str, ...],
                 device: str = "auto") -> dict[str, Any]:
    """Craft (or reuse) one adversarial file per attack in ``out_dir``; returns name -> AdversarialSet."""
    from snnsec.attacks import AttackSpec, load_adversarial, save_adversarial
    from snnsec.attacks.craft import craft, craft_meta, discard_partial
    from snnsec.data import get_dataset
    from snnsec.errors import InputError
    from snnsec.models import load_model
    from snnsec.utils.io import sha256_file

    from snnsec.utils.device import resolve_device

    model = load_model(model_path)
    run_on = resolve_device(device)
    if run_on.type != "cpu":
        model.to(run_on)
    sha = sha256_file(model_path)
    data = get_dataset("mnist5k").split("test")
    sets = {}
    for name in attacks:
        spec = AttackSpec(name, eps=eps)
        meta = craft_meta(spec, model, sha, dataset="mnist5k", split="test", n=n, batch_size=50, seed=0)
        path = out_dir / f"adv-{name}.pt"
        if path.is_file():
            try:
                adv = load_adversarial(path)
                if adv.meta == meta:
                    log.info("reusing %s", path)
                    sets[name] = adv
                    continue
            except InputError as exc:
                log.warning("ignoring %s (%s)", path, exc)
        partial = path.with_name(path.name + ".partial")
        result = craft(model, data, spec, n=n, batch_size=50, seed=0, meta=meta, partial=partial, device=run_on)
        save_adversarial(path, result.adv)
        discard_partial(partial)
        sets[name] = result.adv
    return sets


def run_demo(retrain: bool = False, out_dir: str | os.PathLike[str] = "runs/demo", n: int = DEMO_N,
             eps: str = DEMO_EPS, precision: str = "fixed", attacks: tuple[str, ...] = DEMO_ATTACKS,
             device: str = "auto") -> dict[str, Any]:
    """Run the whole chain; returns the report (also written to ``out_dir``). ``device`` is where
    torch trains and attacks (``auto``: CUDA when available); Lava always runs on the CPU."""
    from snnsec.backends.replay import compare_backends
    from snnsec.evaluation import transfer_report
    from snnsec.models import load_model
    from snnsec.utils.io import atomic_write_json, atomic_write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path, trained = demo_model(retrain, device)
    model = load_model(path)
    sets = demo_attacks(path, out, n, eps, attacks, device)
    first = next(iter(sets.values()))
    report = compare_backends(model, first.x, first.y, {k: v.x_adv for k, v in sets.items()},
                              backend="lava-sim", precision=precision)
    for name in report["attacks"]:
        report["attacks"][name]["eps"] = eps
    report.update({
        "model": str(path),
        "trained_now": trained,
        "model_test_accuracy_1000": model.meta.test_accuracy,
        "precision": precision,
        "dataset": "mnist5k (test split, fixed permutation)",
        "attack_settings": {"eps": eps, "pgd": "alpha = eps/4, 5 steps, random start", "loss": "cross-entropy"},
    })
    title = f"snnsec demo: do PyTorch attacks transfer to Lava ({precision} point)?"
    preamble = (f"Model: vgg5 SNN (T={model.T}, IF neurons, hard reset) trained with STBP on MNIST-5k; "
                f"test accuracy {model.meta.test_accuracy:.4f} on 1,000 digits. Attacks: L-inf eps = {eps} on "
                f"[0, 1] pixels, crafted in PyTorch on {len(first)} test digits, replayed on Lava's CPU simulator "
                f"({'bit-accurate Loihi 2 fixed point' if precision == 'fixed' else 'floating point'}).\n\n"
                "![ASR in PyTorch and on Lava](transfer.png)")
    atomic_write_json(out / "report.json", report)
    atomic_write_text(out / "report.md", transfer_report.markdown(report, title, preamble))
    transfer_report.plot(report, out / "transfer.png", f"vgg5 / MNIST-5k, eps={eps}: PyTorch vs lava-sim ({precision})")
    report["summary"] = (
        f"vgg5 SNN (T={model.T}) on MNIST-5k: clean test accuracy {model.meta.test_accuracy:.4f} on 1,000 digits "
        f"({'trained now' if trained else 'model reused from cache'})\n\n"
        + transfer_report.text_table(report)
        + f"\n\nreport: {out / 'report.md'} (and report.json, transfer.png)"
    )
    return report
