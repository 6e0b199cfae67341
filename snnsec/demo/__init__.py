"""The main job on embedded data: train -> attack -> Loihi 2 emulator (+ lava-sim cross-check) -> report.

1. Train a small spiking VGG (vgg5, T=4, IF neurons) on the 4,000 MNIST-5k training digits, or
   reuse the copy cached under the user cache directory.
2. Craft STBP and RGA attacks (FGSM and PGD) on all 1,000 held-out test digits.
3. Replay clean and adversarial digits on ``loihi2-emu``, the batched emulator of Loihi 2's
   fixed-point arithmetic (all 5 x 1,000 samples), and cross-check the first ``check_lava`` of
   each set on Lava's own CPU simulator (lava-sim, bit-accurate fixed point, one runtime): every
   spike of every layer and every readout ``v`` must be the same, or the demo fails naming the
   first differing set, sample, layer and step.
4. Print the transfer tables and write ``report.md``, ``report.json`` and ``transfer.png``.

Lava is the slow part (about 3 samples/s here against about 100 on the emulator), so it runs in
a child process of its own (:mod:`snnsec.demo.lava_check`) as soon as the first ``check_lava`` digits of
every attack exist, while this process crafts the rest, predicts in torch and runs the emulator.

Every stage resumes: the model and each adversarial file are reused when they match the
configuration, an interrupted attack continues from its finished batches, and the cross-check's
result (``lava-check.json``) is reused while the model and its inputs are the same.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from snnsec.utils.cache import cache_dir

log = logging.getLogger(__name__)

DEMO_MODEL = {"arch": "vgg5", "T": 4, "leak": 1.0, "reset": "hard", "width": 1.0}
DEMO_RECIPE = {"epochs": 3, "batch_size": 64, "optimizer": "adam", "lr": 2e-3, "seed": 0}
DEMO_ATTACKS = ("stbp-fgsm", "rga-fgsm", "stbp-pgd", "rga-pgd")
DEMO_EPS = "0.2"  # L-inf budget on [0, 1] pixels; PGD: alpha = eps/4, 5 steps, random start
DEMO_N = 1000  # every MNIST-5k test digit
DEMO_CHECK = 100  # the first K digits of every set also run on lava-sim
CRAFT_BATCH = 100  # samples per crafting batch; the cross-check's digits are whole batches
EMU_BATCH = 250  # loihi2-emu samples per batch (faster than its default of 32 on the CPU)


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


def adv_file(out_dir: Path, attack: str) -> Path:
    """The demo's adversarial file for ``attack`` in ``out_dir``."""
    return out_dir / f"adv-{attack}.pt"


def demo_attacks(model_path: Path, out_dir: Path, n: int, eps: str, attacks: tuple[str, ...],
                 device: str = "auto", first: int | None = None,
                 batch_size: int = CRAFT_BATCH) -> dict[str, Any]:
    """Craft (or reuse) one adversarial file per attack in ``out_dir``; returns name -> AdversarialSet.

    With ``first = k`` only the whole batches that hold the first ``k`` of the ``n`` samples are
    crafted, into each attack's partial folder, from which the full run later resumes them (the
    same batches, seeds and file as an uninterrupted run); the sets returned then hold at least
    those ``k`` samples (all ``n`` when the final file already exists), and no final file is written.
    """
    from snnsec.attacks import AttackSpec, load_adversarial, save_adversarial
    from snnsec.attacks.craft import craft, craft_meta, discard_partial
    from snnsec.data import get_dataset
    from snnsec.errors import InputError
    from snnsec.models import load_model
    from snnsec.utils.device import resolve_device
    from snnsec.utils.io import sha256_file

    model = load_model(model_path)
    run_on = resolve_device(device)
    if run_on.type != "cpu":
        model.to(run_on)
    sha = sha256_file(model_path)
    data = get_dataset("mnist5k").split("test")
    sets = {}
    for name in attacks:
        spec = AttackSpec(name, eps=eps)
        meta = craft_meta(spec, model, sha, dataset="mnist5k", split="test", n=n, batch_size=batch_size, seed=0)
        path = adv_file(out_dir, name)
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
        if first is not None:
            part = min(n, math.ceil(first / batch_size) * batch_size)  # whole batches: resumed as they are
            result = craft(model, data, spec, n=part, batch_size=batch_size, seed=0, meta=meta, partial=partial,
                           device=run_on)
            sets[name] = result.adv
            continue
        result = craft(model, data, spec, n=n, batch_size=batch_size, seed=0, meta=meta, partial=partial, device=run_on)
        save_adversarial(path, result.adv)
        discard_partial(partial)
        sets[name] = result.adv
    return sets


def run_demo(retrain: bool = False, out_dir: str | os.PathLike[str] = "runs/demo", n: int = DEMO_N,
             eps: str = DEMO_EPS, precision: str = "fixed", attacks: tuple[str, ...] = DEMO_ATTACKS,
             device: str = "auto", check_lava: int = DEMO_CHECK, batch_size: int = EMU_BATCH,
             lava_spikes: bool = False) -> dict[str, Any]:
    """Run the whole chain; returns the report (also written to ``out_dir``).

    ``n`` test digits are attacked and replayed on ``loihi2-emu``; the first ``check_lava`` of each
    set (clean and every attack) also run on lava-sim in ``precision`` (0: no Lava). ``device`` is
    where torch trains and attacks and where the emulator runs (``auto``: CUDA when available);
    Lava always runs on the CPU. ``batch_size``: the emulator's samples per batch. In fixed point
    the cross-check compares every readout ``v`` and prediction, and with ``lava_spikes`` also
    every layer's spikes at every step (several times Lava's cost); a readout that differs is
    located to its first differing layer and step either way.

    Raises :class:`~snnsec.errors.SnnsecError` naming the first differing set, sample, layer and
    step if the emulator and lava-sim fixed point differ anywhere (after writing the report).
    """
    import numpy as np
    import torch

    from snnsec.backends.base import input_steps
    from snnsec.backends.loihi2_emu import Loihi2EmuBackend
    from snnsec.backends.replay import backend_figures, backend_predict
    from snnsec.demo.lava_check import LavaCheck
    from snnsec.errors import InputError
    from snnsec.models import load_model
    from snnsec.utils.device import resolve_device

    if n < 1:
        raise InputError(f"n must be a positive number of digits, got {n}")
    if check_lava < 0:
        raise InputError(f"check_lava must be 0 (no Lava) or a positive number of digits, got {check_lava}")
    if batch_size < 1:
        raise InputError(f"batch_size must be a positive number of samples, got {batch_size}")
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(stage: str, since: float) -> float:
        now = time.perf_counter()
        timings[stage] = round(now - since, 2)
        return now

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    path, trained = demo_model(retrain, device)
    model = load_model(path)
    n = min(n, _test_size())
    k = min(check_lava, n)
    t = lap("model", t)
    names = list(attacks)
    check: LavaCheck | None = None
    try:
        if k:  # the first k digits of every attack first, so that Lava can start now
            head = demo_attacks(path, out, n, eps, attacks, device, first=k)
            some = next(iter(head.values()))
            steps_k = input_steps(model, torch.cat([some.x[:k], *(head[a].x_adv[:k] for a in names)]), 0)
            check = LavaCheck(path, steps_k, out, precision, lava_spikes)
            if any(not adv_file(out, a).is_file() for a in names):  # the next pass resumes these batches
                log.info("crafted the batches that hold the first %d digits of each attack first, for Lava; "
                         "the full pass continues from them", k)
            t = lap("craft_first", t)
        with _leave_a_core(check is not None and check.proc is not None):
            sets = demo_attacks(path, out, n, eps, attacks, device)
            t = lap("craft", t)
            first = next(iter(sets.values()))
            inputs = torch.cat([first.x, *(sets[a].x_adv for a in names)])
            ref = backend_predict(model, inputs, "torch")
            t = lap("torch", t)
            emu = Loihi2EmuBackend(model, batch_size=batch_size, device=str(resolve_device(device)))
            emu_pred = emu.predict(inputs)
            t = lap("emulator", t)
        report = backend_figures("loihi2-emu", first.y, ref.labels, emu_pred.labels, names)
        report["backend_info"] = {key: v for key, v in emu_pred.info.items() if key not in ("quantization", "plan")}
        if check is not None:
            lava = check.result()
            t = lap("lava_wait", t)
            rows = np.arange(len(inputs)).reshape(1 + len(names), n)[:, :k].reshape(-1)
            lava_labels = np.asarray(lava["lava_labels"], dtype=np.int64)
            report["lava"] = backend_figures("lava-sim", first.y[:k], ref.labels[rows], lava_labels, names)
            report["lava"]["backend_info"] = dict(lava["lava_info"])
            report["cross_check"] = _cross_check(lava, emu_pred.labels[rows], ["clean", *names], k)
            timings["lava"] = float(lava["lava_info"].get("seconds") or 0.0)
    finally:
        if check is not None:
            check.close()
    for name in names:
        report["attacks"][name]["eps"] = eps
        if "lava" in report:
            report["lava"]["attacks"][name]["eps"] = eps
    timings["total"] = round(time.perf_counter() - started, 2)
    report.update({
        "model": str(path),
        "trained_now": trained,
        "model_test_accuracy_1000": model.meta.test_accuracy,
        "precision": precision,
        "check_lava": k,
        "dataset": "mnist5k (test split, fixed permutation)",
        "attack_settings": {"eps": eps, "pgd": "alpha = eps/4, 5 steps, random start", "loss": "cross-entropy"},
        "timings_s": timings,
    })
    _write_reports(report, out, model, eps)
    cross = report.get("cross_check")
    if cross is not None and not cross["agree"]:
        from snnsec.backends.loihi2_emu import difference_line
        from snnsec.errors import SnnsecError

        if cross["first_difference"] is not None:
            raise SnnsecError(difference_line(cross) + f" (report: {out / 'report.md'})")
        raise SnnsecError(f"loihi2-emu and lava-sim predict differently on {cross['predictions_differ']} of "
                          f"{cross['samples']} cross-checked samples, first {cross['first_prediction_difference']} "
                          f"(report: {out / 'report.md'})")
    return report


SIDE_NICE = 10  # how much lower this thread's priority is than Lava's while both run


@contextlib.contextmanager
def _leave_a_core(active: bool) -> Iterator[None]:
    """While Lava's workers run beside this process, the work here yields to them: Lava is the
    critical path and this work is not (measured: the whole demo 104 s instead of 114-126 s).

    torch uses one thread fewer than the cores (at least one): OpenMP threads that wait for a
    busy core spin and slow both sides. And this thread's nice value is raised by
    :data:`SIDE_NICE` (on Linux only this thread's), then restored; an unprivileged process
    cannot lower it again, so there it stays raised for the rest of the run.
    """
    import torch

    before = torch.get_num_threads()
    nice = os.getpriority(os.PRIO_PROCESS, 0) if active and hasattr(os, "setpriority") else None
    if active:
        torch.set_num_threads(max(1, min(before, (os.cpu_count() or 1) - 1)))
        if nice is not None:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, 0, min(19, nice + SIDE_NICE))
    try:
        yield
    finally:
        torch.set_num_threads(before)
        if nice is not None:
            try:
                os.setpriority(os.PRIO_PROCESS, 0, nice)
            except OSError:
                log.debug("keeping nice %+d: lowering it needs privileges", SIDE_NICE)


def _test_size() -> int:
    from snnsec.data import get_dataset

    return len(get_dataset("mnist5k").split("test"))


def _cross_check(lava: dict[str, Any], emu_labels: Any, set_names: list[str], k: int) -> dict[str, Any]:
    """Did the emulator agree with lava-sim on the cross-checked samples? Spikes and readouts
    (from the child, fixed point) and the predictions: the child's emulator labels and this
    process's (another batch composition) must both equal lava-sim's."""
    import numpy as np

    from snnsec.backends.loihi2_emu import locate

    rows = [(name, i) for name in set_names for i in range(k)]
    lava_labels = np.asarray(lava["lava_labels"], dtype=np.int64)
    emu_labels = np.asarray(emu_labels, dtype=np.int64)
    child_labels = np.asarray(lava["emulator_labels"], dtype=np.int64)
    differ = np.flatnonzero((emu_labels != lava_labels) | (child_labels != lava_labels))
    fixed = lava["precision"] == "fixed"
    first = locate(lava["first_difference"], rows) if fixed else None
    agree = (not len(differ) and bool(lava["identical"])) if fixed else True
    return {
        "backends": ["loihi2-emu", "lava-sim"],
        "precision": lava["precision"],
        "per_set": k,
        "sets": set_names,
        "samples": len(rows),
        "compared": lava["compared"],
        "predictions_equal": int(len(rows) - len(differ)),
        "predictions_differ": int(len(differ)),
        "prediction_agreement": float(np.mean(emu_labels == lava_labels)),
        "first_prediction_difference": ({"set": rows[differ[0]][0], "sample": rows[differ[0]][1]} if len(differ)
                                        else None),
        "identical": lava["identical"],
        "spikes_compared": lava["spikes_compared"],
        "first_difference": first,
        # fixed point: identity is the contract, so any difference fails the demo; float Lava is
        # not the emulator's arithmetic, so there only the share of equal predictions is reported
        "agree": bool(agree),
        "lava_seconds": lava["lava_info"].get("seconds"),
        "reused": lava["reused"],
    }


def _write_reports(report: dict[str, Any], out: Path, model: Any, eps: str) -> None:
    from snnsec.evaluation import transfer_report
    from snnsec.utils.io import atomic_write_json, atomic_write_text

    n = report["n"]
    k = report["check_lava"]
    precision = report["precision"]
    arith = "bit-accurate Loihi 2 fixed point" if precision == "fixed" else "floating point"
    title = "snnsec demo: do PyTorch attacks transfer to Loihi 2 arithmetic?"
    preamble = (
        f"Model: vgg5 SNN (T={model.T}, IF neurons, hard reset) trained with STBP on MNIST-5k; test accuracy "
        f"{model.meta.test_accuracy:.4f} on 1,000 digits. Attacks: L-inf eps = {eps} on [0, 1] pixels, crafted in "
        f"PyTorch on {n} test digits and replayed on `loihi2-emu`, the batched emulator of Loihi 2's fixed-point "
        "arithmetic" + (f"; the first {k} digits of every set also ran on Lava's CPU simulator (lava-sim, {arith})."
                        if k else "; no lava-sim cross-check was run.")
        + "\n\n![ASR in PyTorch, on the emulator and on Lava](transfer.png)"
    )
    atomic_write_json(out / "report.json", report)
    atomic_write_text(out / "report.md", transfer_report.demo_markdown(report, title, preamble))
    transfer_report.demo_plot(report, out / "transfer.png", f"vgg5 / MNIST-5k, eps={eps}: ASR in PyTorch and on Loihi 2 arithmetic")
    report["summary"] = (
        f"vgg5 SNN (T={model.T}) on MNIST-5k: clean test accuracy {model.meta.test_accuracy:.4f} on 1,000 digits "
        f"({'trained now' if report['trained_now'] else 'model reused from cache'})\n\n"
        + transfer_report.demo_text(report)
        + f"\n\nreport: {out / 'report.md'} (and report.json, transfer.png); {report['timings_s']['total']:.0f} s"
    )
