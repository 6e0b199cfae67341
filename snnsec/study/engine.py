"""Run a study: train (or reuse) its models, then its grid of cells, one resumable cell at a time.

Models are cached by the SHA-256 of their recipe under ``<cache>/study-models/`` (as the demo
caches its model), so two studies that need the same model train it once. A cell is one attack
setting on one target: crafted with :func:`snnsec.attacks.craft.craft` exactly as ``snnsec
craft`` does (same metadata, batches and seeds) and scored with
:func:`snnsec.evaluation.robustness.robustness_report` exactly as ``snnsec evaluate`` does. Each
finished cell is written atomically to ``<out>/cells/<key>.json``; a rerun loads those and
computes only the missing ones. The study's JSON holds no times or paths, so an interrupted and
resumed run writes the same bytes as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from snnsec.errors import InputError
from snnsec.study.spec import FGSM_LIKE, StudySpec
from snnsec.utils.cache import cache_dir
from snnsec.utils.io import atomic_write_json
from snnsec.utils.progress import progress

log = logging.getLogger(__name__)
FORMAT = "snnsec-study"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ModelKey:
    """One model of a study: an SNN (leak, encoder, seed) or the quantised-ANN twin."""

    kind: str  # "snn" or "ann"
    leak: float
    encoder: str
    seed: int

    @property
    def label(self) -> str:
        if self.kind == "ann":
            return f"ann-{self.encoder}-s{self.seed}"
        return f"snn-l{self.leak:g}-{self.encoder}-s{self.seed}"


@dataclass(frozen=True)
class Cell:
    """One point of the grid: attack ``attack`` at ``eps`` with time extension ``te`` on ``target``,
    crafted on ``source`` (the target itself for white box, the substitute for black box)."""

    target: ModelKey
    source: ModelKey
    attack: str
    eps: str
    te: int

    @property
    def box(self) -> str:
        return "white" if self.source == self.target else "black"

    @property
    def key(self) -> str:
        src = "" if self.box == "white" else f"|from={self.source.label}"
        return f"{self.target.label}|{self.attack}|eps={self.eps}|te={self.te}{src}"

    @property
    def file_name(self) -> str:
        return hashlib.sha256(self.key.encode()).hexdigest()[:16] + ".json"


def model_recipe(spec: StudySpec, key: ModelKey) -> dict[str, Any]:
    """Everything that determines a trained model's weights (its cache key)."""
    from snnsec import __version__

    from snnsec.encoders import ENCODERS

    # random (rate) input needs more steps to carry the same information (the paper: T=16 for Poisson)
    T = spec.poisson_T if ENCODERS[key.encoder].stochastic and spec.poisson_T else spec.T
    recipe = {
        "kind": key.kind, "arch": spec.arch, "dataset": spec.dataset, "width": spec.width,
        "T": 1 if key.kind == "ann" else T, "leak": key.leak, "encoder": key.encoder,
        "epochs": spec.epochs, "batch_size": spec.batch_size, "optimizer": spec.optimizer, "lr": spec.lr,
        "train_n": spec.train_n, "seed": key.seed, "v": __version__,
    }
    if key.kind == "ann":
        recipe["levels"] = spec.ann_levels
    return recipe


def model_path(spec: StudySpec, key: ModelKey) -> Path:
    recipe = model_recipe(spec, key)
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    return cache_dir() / "study-models" / f"{spec.arch}-{spec.dataset}-{key.label}-{digest}.pt"


def _dataset(spec: StudySpec, T: int | None = None) -> Any:
    from snnsec.data import DATASETS, get_dataset

    options = {"T": T} if T is not None and "T" in DATASETS[spec.dataset].option_names() else {}
    return get_dataset(spec.dataset, spec.data_dir, **options)


def ensure_model(spec: StudySpec, key: ModelKey, device: torch.device | None = None) -> Path:
    """The cached model of ``key``, trained now if it is missing (resuming from its checkpoint),
    on ``device`` (``None``: the CPU)."""
    from snnsec.models import build_model, load_model, save_model
    from snnsec.models.ann import ANN_KEY, ann_config, make_ann_twin
    from snnsec.neurons import NeuronParameters
    from snnsec.training import Recipe, train
    from snnsec.utils.seeding import seed_everything

    path = model_path(spec, key)
    if path.is_file():
        try:
            load_model(path)
            return path
        except InputError as exc:
            log.warning("cached study model unusable (%s); training again", exc)
    recipe = model_recipe(spec, key)
    ds = _dataset(spec, recipe["T"])
    T = ds.sample_shape()[0] if ds.kind == "frames" else recipe["T"]
    train_set = ds.split("train")
    if spec.train_n is not None:
        from torch.utils.data import Subset

        from snnsec.data.base import sample_indices

        train_set = Subset(train_set, sample_indices(len(train_set), spec.train_n).tolist())
    seed_everything(key.seed)  # the initial weights too
    model = build_model(
        spec.arch, num_classes=len(ds.classes), input_shape=ds.sample_shape(), T=T,
        neuron=NeuronParameters(leak=key.leak), encoder=key.encoder, width=spec.width,
        normalization=ds.normalization, dataset=ds.name, class_names=list(ds.classes),
    )
    ann: dict[str, Any] = {}
    if key.kind == "ann":
        make_ann_twin(model, spec.ann_levels)
        ann = {ANN_KEY: ann_config(spec.ann_levels)}
    train_recipe = Recipe(epochs=spec.epochs, batch_size=spec.batch_size, optimizer=spec.optimizer, lr=spec.lr,
                          seed=key.seed).validated()
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = path.with_name(path.name + ".ckpt")
    log.info("training %s (%s on %s); cached at %s", key.label, spec.arch, spec.dataset, path)
    result = train(model, train_set, ds.split("test"), train_recipe, checkpoint=ckpt, device=device)
    model.cpu()
    model.meta.recipe = {**train_recipe.__dict__, **ann, "study_recipe": recipe}
    model.meta.test_accuracy = result.test_accuracy
    save_model(model, path)
    ckpt.unlink(missing_ok=True)
    return path


# -- the grid ---------------------------------------------------------------------------------------
def cells_of(spec: StudySpec) -> list[Cell]:
    """The study's cells in a fixed order, without duplicates (a cell shared by two figures runs once)."""
    main = ModelKey("snn", 1.0, spec.encoders[0], spec.seed)
    eps = spec.main_eps
    cells: list[Cell] = []

    def add(cell: Cell) -> None:
        if cell not in cells:
            cells.append(cell)

    fgsm = [a for a in spec.attacks if a.rsplit("-", 1)[-1] in FGSM_LIKE]
    main_sub = ModelKey("snn", 1.0, spec.encoders[0], spec.substitute_seed)
    for e in spec.eps:  # Fig. 6: ASR against ε, first encoder, λ = 1: white box, and black box for FGSM
        for attack in spec.attacks:
            add(Cell(main, main, attack, e, 1))
        if spec.black_box:
            for attack in fgsm:
                add(Cell(main, main_sub, attack, e, 1))
    for enc in spec.encoders:  # Table 2: white and black box at the main ε
        target = ModelKey("snn", 1.0, enc, spec.seed)
        sub = ModelKey("snn", 1.0, enc, spec.substitute_seed)
        for attack in spec.attacks:
            add(Cell(target, target, attack, eps, 1))
            if spec.black_box:
                add(Cell(target, sub, attack, eps, 1))
    from snnsec.encoders import ENCODERS

    for enc in spec.encoders:  # Fig. 7: ASR against TE, each encoder whose steps can be extended
        target = ModelKey("snn", 1.0, enc, spec.seed)
        for k in spec.te if ENCODERS[enc].time_extensible else [1]:
            for attack in fgsm:
                add(Cell(target, target, attack, eps, k))
    direct = spec.encoders[0]
    for leak in spec.leaks:  # Fig. 8: ASR against λ, plus the quantised ANN
        target = ModelKey("snn", float(leak), direct, spec.seed)
        for attack in fgsm:
            add(Cell(target, target, attack, eps, 1))
    if spec.ann and spec.leaks and fgsm:
        ann = ModelKey("ann", 1.0, direct, spec.seed)
        add(Cell(ann, ann, fgsm[0].split("-", 1)[0] + "-fgsm", eps, 1))
    return cells


def models_of(spec: StudySpec, cells: list[Cell]) -> list[ModelKey]:
    keys: list[ModelKey] = []
    for cell in cells:
        for k in (cell.target, cell.source):
            if k not in keys:
                keys.append(k)
    if spec.shuffle:
        for enc in spec.encoders:
            k = ModelKey("snn", 1.0, enc, spec.seed)
            if k not in keys:
                keys.append(k)
    return keys


def shuffle_targets(spec: StudySpec) -> list[ModelKey]:
    return [ModelKey("snn", 1.0, enc, spec.seed) for enc in spec.encoders] if spec.shuffle else []


# -- one cell ---------------------------------------------------------------------------------------
def _stats(values: list[float]) -> dict[str, Any]:
    finite = [v for v in values if v is not None and not math.isnan(v)]
    if not finite:
        return {"mean": None, "std": None}
    mean = sum(finite) / len(finite)
    std = math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1)) if len(finite) > 1 else 0.0
    return {"mean": mean, "std": std}


def _nan_to_none(v: float | None) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def run_cell(spec: StudySpec, cell: Cell, paths: dict[ModelKey, Path], device: torch.device | None = None) -> dict[str, Any]:
    """Craft and score one cell: what ``snnsec evaluate --attack ... [--substitute ...]`` reports,
    for each of ``draws`` encoder draws when the target's encoder is stochastic."""
    from snnsec.attacks import AttackSpec
    from snnsec.attacks.craft import craft, craft_meta
    from snnsec.encoders import ENCODERS
    from snnsec.evaluation.robustness import ModelPredictor, robustness_report
    from snnsec.models import load_model
    from snnsec.utils.io import sha256_file

    target = load_model(paths[cell.target])
    target_sha = sha256_file(paths[cell.target])
    source, source_sha = None, None
    if cell.box == "black":
        source = load_model(paths[cell.source])
        source_sha = sha256_file(paths[cell.source])
    ds = _dataset(spec, target.T if _dataset_takes_T(spec) else None)
    data = ds.split("test")
    n = min(spec.n, len(data))
    attack = AttackSpec(cell.attack, eps=cell.eps, te=cell.te, **spec.attack_options)
    meta = craft_meta(attack, target, target_sha, source, source_sha, dataset=ds.name, split="test", n=n,
                      batch_size=spec.attack_batch_size, seed=spec.seed)
    if device is not None and device.type != "cpu":  # files stay on the CPU; only the running copies move
        target.to(device)
        if source is not None:
            source.to(device)
    adv = craft(source or target, data, attack, n=n, batch_size=spec.attack_batch_size, seed=spec.seed,
                meta=meta, device=device).adv
    stochastic = bool(getattr(ENCODERS[target.meta.encoder], "stochastic", False))
    draws = spec.draws if stochastic else 1
    reports = [robustness_report(ModelPredictor(target, seed=spec.seed + d), adv) for d in range(draws)]
    out: dict[str, Any] = {
        "key": cell.key, "target": cell.target.label, "source": cell.source.label, "box": cell.box,
        "kind": cell.target.kind, "leak": cell.target.leak, "encoder": cell.target.encoder,
        "attack": cell.attack, "eps": cell.eps, "te": cell.te, "n": reports[0]["n"], "draws": draws,
        "asr": _stats([r["asr"] for r in reports]),
        "clean_accuracy": _stats([r["clean_accuracy"] for r in reports]),
        "robust_accuracy": _stats([r["robust_accuracy"] for r in reports]),
        "per_draw": [{k: _nan_to_none(r[k]) for k in ("asr", "clean_accuracy", "robust_accuracy", "clean_correct", "fooled")}
                     for r in reports],
        "model_sha256": target_sha,
    }
    if source is not None:  # transfer: of the examples that fool the substitute, the share that fool the target
        sub = robustness_report(ModelPredictor(source, seed=spec.seed), adv)
        x_pred = ModelPredictor(source, seed=spec.seed).predict(adv.x_adv).cpu()
        c_pred = ModelPredictor(source, seed=spec.seed).predict(adv.x).cpu()
        t_clean = ModelPredictor(target, seed=spec.seed).predict(adv.x).cpu() == adv.y
        t_adv = ModelPredictor(target, seed=spec.seed).predict(adv.x_adv).cpu() == adv.y
        fooled_sub = (c_pred == adv.y) & (x_pred != adv.y) & t_clean
        out["substitute_asr"] = _nan_to_none(sub["asr"])
        out["transfer_rate"] = (float((fooled_sub & ~t_adv).sum()) / int(fooled_sub.sum())) if int(fooled_sub.sum()) else None
        out["substitute_sha256"] = source_sha
    return out


def _dataset_takes_T(spec: StudySpec) -> bool:
    from snnsec.data import DATASETS

    return "T" in DATASETS[spec.dataset].option_names()


def run_shuffle(spec: StudySpec, key: ModelKey, paths: dict[ModelKey, Path]) -> dict[str, Any]:
    """Table 1: clean accuracy against accuracy with every neuron's spikes permuted in time."""
    from snnsec.evaluation.rate_coding import shuffle_report
    from snnsec.models import load_model

    model = load_model(paths[key])
    ds = _dataset(spec, model.T if _dataset_takes_T(spec) else None)
    report = shuffle_report(model, ds.split("test"), n=spec.n, runs=spec.shuffle_runs, seed=spec.seed)
    return {"key": f"{key.label}|shuffle", "target": key.label, "encoder": key.encoder, "leak": key.leak, **report}


# -- the run ----------------------------------------------------------------------------------------
@dataclass
class StudyResult:
    data: dict[str, Any]
    computed: int
    resumed: int
    seconds: float


def _open_out(out: Path, spec: StudySpec) -> Path:
    cells = out / "cells"
    run = out / "study-run.json"
    if run.is_file():
        try:
            found = json.loads(run.read_text()).get("fingerprint")
        except (OSError, ValueError):
            found = None
        if found != spec.fingerprint():
            raise InputError(f"{out} holds a study with another spec; use another --out, or delete {cells} to start over")
    else:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(run, {"fingerprint": spec.fingerprint(), "name": spec.name})
    cells.mkdir(parents=True, exist_ok=True)
    return cells


def _load_cell(path: Path, key: str) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        log.warning("ignoring unreadable %s; computing that cell again", path)
        return None
    return data if isinstance(data, dict) and data.get("key") == key else None


def run_study(spec: StudySpec, out: str | Path, device: torch.device | None = None) -> StudyResult:
    """Train or reuse the models, run every missing cell, and return the study's JSON data.

    ``device`` is where training and attacks run (``None``: the CPU; the spike shuffle always runs
    there). It is not part of the study's fingerprint: a GPU's float results can differ from the
    CPU's in the last bits, so resume a study on the device it started on."""
    out = Path(out)
    start = time.perf_counter()
    folder = _open_out(out, spec)
    cells = cells_of(spec)
    keys = models_of(spec, cells)
    shuffles = shuffle_targets(spec)
    jobs: list[tuple[str, Any]] = [("shuffle", k) for k in shuffles] + [("cell", c) for c in cells]

    def job_key(kind: str, item: Any) -> str:
        return f"{item.label}|shuffle" if kind == "shuffle" else item.key

    def job_file(kind: str, item: Any) -> Path:
        return folder / (hashlib.sha256(job_key(kind, item).encode()).hexdigest()[:16] + ".json")

    missing_models = [k for k in keys if not model_path(spec, k).is_file()]
    todo = [(kind, item) for kind, item in jobs if _load_cell(job_file(kind, item), job_key(kind, item)) is None]
    steps = len(keys) + len(jobs)
    done = steps - len(missing_models) - len(todo)
    log.info("study %s: %d models (%d to train), %d cells (%d to run)", spec.name, len(keys), len(missing_models),
             len(jobs), len(todo))
    bar = progress(total=steps, initial=done, desc=f"study {spec.name}", unit="step")
    # seconds and count per kind of step: training a model and running a cell cost very different amounts
    spent = {"model": 0.0, "cell": 0.0}
    ran = {"model": 0, "cell": 0}
    left = {"model": len(missing_models), "cell": len(todo)}

    def tick(kind: str, what: str, seconds: float) -> None:
        nonlocal done
        spent[kind] += seconds
        ran[kind] += 1
        left[kind] -= 1
        done += 1
        bar.update(1)
        per_model = spent["model"] / ran["model"] if ran["model"] else None
        per_cell = spent["cell"] / ran["cell"] if ran["cell"] else None
        if per_cell is None:
            log.info("%d/%d done (%s, %.1f s); %d models (about %s) and %d cells to go", done, steps, what, seconds,
                     left["model"], _duration(left["model"] * (per_model or 0.0)), left["cell"])
        else:
            eta = left["model"] * (per_model or 0.0) + left["cell"] * per_cell
            log.info("%d/%d done (%s, %.1f s); about %s left", done, steps, what, seconds, _duration(eta))

    paths: dict[ModelKey, Path] = {}
    try:
        for k in keys:
            t0 = time.perf_counter()
            fresh = k in missing_models
            paths[k] = ensure_model(spec, k, device)
            if fresh:
                tick("model", f"model {k.label}", time.perf_counter() - t0)
        computed = 0
        for kind, item in todo:
            t0 = time.perf_counter()
            result = run_shuffle(spec, item, paths) if kind == "shuffle" else run_cell(spec, item, paths, device)
            atomic_write_json(job_file(kind, item), result)
            computed += 1
            tick("cell", job_key(kind, item), time.perf_counter() - t0)
    finally:
        bar.close()
    results = {job_key(kind, item): _load_cell(job_file(kind, item), job_key(kind, item)) for kind, item in jobs}
    from snnsec.models.io import read_payload
    from snnsec.utils.io import sha256_file

    models = {}
    for k in keys:
        meta = read_payload(paths[k])["meta"]
        models[k.label] = {"file": paths[k].name, "sha256": sha256_file(paths[k]), "kind": k.kind, "leak": k.leak,
                           "encoder": k.encoder, "seed": k.seed, "T": meta["T"],
                           "test_accuracy": meta.get("test_accuracy")}
    data = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "study": {k: v for k, v in spec.to_dict().items() if k != "data_dir"},
        "main_eps": spec.main_eps,
        "models": models,
        "shuffle": [results[job_key("shuffle", k)] for k in shuffles],
        "cells": [results[c.key] for c in cells],
    }
    return StudyResult(data, computed, len(jobs) - computed, time.perf_counter() - start)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def write_study(result: StudyResult, out: str | Path) -> dict[str, Path]:
    """``study.json``, ``tables.md`` and the figures in ``out``; returns name -> path."""
    from snnsec.study.report import markdown_tables, plot_all

    out = Path(out)
    files = {"json": out / "study.json", "tables": out / "tables.md"}
    atomic_write_json(files["json"], result.data)
    from snnsec.utils.io import atomic_write_text

    atomic_write_text(files["tables"], markdown_tables(result.data))
    files.update(plot_all(result.data, out))
    return files


__all__ = ["Cell", "ModelKey", "StudyResult", "cells_of", "ensure_model", "model_path", "run_cell", "run_study",
           "write_study"]
