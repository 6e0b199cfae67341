"""What a study runs: models, attacks and the ε, TE and λ grids, as one declarative record.

A study is a :class:`StudySpec`, written in Python (the presets below) or in a small TOML file
(``snnsec reproduce --study my.toml``) whose keys are the field names::

    name = "tiny"
    dataset = "mnist5k"
    width = 0.125
    epochs = 1
    attacks = ["stbp-fgsm", "rga-fgsm"]
    eps = ["0.1"]
    n = 8

Unknown keys and values of the wrong kind are refused in one line. The spec is JSON data: it is
stored in the study's output, and the output folder refuses to resume a run of another spec.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snnsec.errors import InputError, unknown_option

FGSM_LIKE = ("fgsm",)  # optimizers swept over TE and λ, as in the paper's Figs. 7-8


@dataclass
class StudySpec:
    """One study. Every grid may be empty, which drops its figure.

    Attributes:
        name: label used in titles and the output.
        dataset, data_dir: the data (``data_dir`` is not part of the fingerprint).
        arch, width, T, poisson_T: the SNN; Poisson models run ``poisson_T`` steps (default ``T``).
        epochs, batch_size, optimizer, lr, train_n: training recipe (``train_n``: first N of a
            fixed permutation of the training split; ``None`` is all of it).
        seed: the target models' seed; substitute_seed: the black-box substitute's.
        attacks: ``<gradient>-<optimizer>`` names (columns of Table 2, lines of Fig. 6).
        attack_options: options for every attack (e.g. ``{"steps": 5}``), as for ``snnsec craft``.
        eps: the ε grid of Fig. 6, spelled as written (``"8/255"``); eps_main: the ε of Table 2
            and of the TE and λ sweeps (default: the middle of ``eps``).
        te: time-extension factors of Fig. 7 (1 is no extension).
        leaks: λ grid of Fig. 8 (direct input).
        encoders: input encodings (``direct``, ``poisson``; ``frames`` for event data).
        black_box: also craft on a substitute (another seed) and report transfer (Table 2).
        ann: add the quantised-ANN baseline of Fig. 8 (``snnsec train --ann``); ann_levels: L.
        shuffle: Table 1, spike-shuffle accuracy of each target model (shuffle_runs draws).
        n: attacked test samples per cell; attack_batch_size: samples per crafting batch.
        draws: evaluations of a stochastic (Poisson) model with different encoder draws.
    """

    name: str = "study"
    dataset: str = "mnist5k"
    data_dir: str | None = None
    arch: str = "vgg5"
    width: float = 1.0
    T: int = 4
    poisson_T: int | None = None
    epochs: int = 3
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 2e-3
    train_n: int | None = None
    seed: int = 0
    substitute_seed: int = 1
    attacks: list[str] = field(default_factory=lambda: ["stbp-fgsm", "rga-fgsm", "stbp-pgd", "rga-pgd"])
    attack_options: dict[str, Any] = field(default_factory=dict)
    eps: list[str] = field(default_factory=lambda: ["0.05", "0.1", "0.15", "0.2", "0.25", "0.3"])
    eps_main: str | None = None
    te: list[int] = field(default_factory=lambda: [1, 2, 3])
    leaks: list[float] = field(default_factory=lambda: [0.5, 0.75, 1.0])
    encoders: list[str] = field(default_factory=lambda: ["direct", "poisson"])
    black_box: bool = True
    ann: bool = True
    ann_levels: int = 8
    shuffle: bool = True
    shuffle_runs: int = 3
    n: int = 100
    attack_batch_size: int = 64
    draws: int = 5

    def __post_init__(self) -> None:
        self.validated()

    # -- checks -----------------------------------------------------------------------------------
    def validated(self) -> "StudySpec":
        def positive(name: str, value: Any) -> None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"study field {name}: expected a positive integer, got {value!r}")

        for name in ("T", "epochs", "batch_size", "n", "attack_batch_size", "draws", "ann_levels", "shuffle_runs"):
            positive(name, getattr(self, name))
        for name in ("poisson_T", "train_n"):
            if getattr(self, name) is not None:
                positive(name, getattr(self, name))
        if not self.attacks:
            raise InputError("study field attacks: expected at least one attack name, got []")
        if not self.encoders:
            raise InputError("study field encoders: expected at least one encoder, got []")
        from snnsec.encoders import ENCODERS
        from snnsec.errors import unknown_choice

        for enc in self.encoders:
            if enc not in ENCODERS:
                raise unknown_choice("encoder (study field encoders)", enc, ENCODERS)
        for k in self.te:
            positive("te", k)
        for lam in self.leaks:
            if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0.0 < lam <= 1.0:
                raise InputError(f"study field leaks: expected numbers in (0, 1], got {lam!r}")
        if not self.eps and self.eps_main is None:
            raise InputError("study field eps: give at least one ε or set eps_main")
        self.eps = [str(e) for e in self.eps]
        if self.eps_main is not None:
            self.eps_main = str(self.eps_main)
        if not isinstance(self.width, (int, float)) or self.width <= 0:
            raise InputError(f"study field width: expected a positive number, got {self.width!r}")
        return self

    @property
    def main_eps(self) -> str:
        return self.eps_main if self.eps_main is not None else self.eps[len(self.eps) // 2]

    # -- data -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def fingerprint(self) -> str:
        """SHA-256 of everything that changes results (not ``data_dir``)."""
        data = {k: v for k, v in self.to_dict().items() if k != "data_dir"}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "study") -> "StudySpec":
        names = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in names:
                raise unknown_option(f"{source} field", key, names)
        kinds = {f.name: f.type for f in dataclasses.fields(cls)}
        for key, value in data.items():
            want = str(kinds[key])
            if want.startswith("list") and not isinstance(value, list):
                raise InputError(f"{source} field {key}: expected a list, got {value!r}")
            if want.startswith("dict") and not isinstance(value, dict):
                raise InputError(f"{source} field {key}: expected a table, got {value!r}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise InputError(f"{source}: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> "StudySpec":
        import tomllib

        try:
            data = tomllib.loads(Path(path).read_text())
        except OSError as exc:
            raise InputError(f"cannot read study file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"study file {path} is not valid TOML: {exc}") from None
        return cls.from_dict(data, f"study file {path}")


# name -> (spec fields, expected runtime as stated in --help)
PRESETS: dict[str, tuple[dict[str, Any], str]] = {
    "mnist5k": (
        {"name": "mnist5k", "dataset": "mnist5k", "arch": "vgg5", "T": 4, "poisson_T": 8, "epochs": 2,
         "n": 100, "eps": ["0.05", "0.1", "0.15", "0.2", "0.25", "0.3"], "eps_main": "0.1", "te": [1, 2, 3],
         "leaks": [0.5, 0.75, 1.0], "encoders": ["direct", "poisson"], "draws": 5},
        "embedded MNIST-5k, vgg5 T=4 (Poisson T=8), 7 models, 100 digits per cell; measured 2.5 min on 2 "
        "idle CPU cores and 28 min on a shared, loaded 2-core machine (docs/reproduce.md)",
    ),
    "dvs-mnist5k": (
        {"name": "dvs-mnist5k", "dataset": "dvs-mnist5k", "arch": "vggdvs", "width": 0.25, "T": 10, "epochs": 2,
         "n": 100, "eps": ["0.01", "0.02", "0.03", "0.05"], "eps_main": "0.02", "te": [1],
         "leaks": [0.5, 0.75, 1.0], "encoders": ["frames"], "draws": 1},
        "embedded event-frame MNIST-5k, vggdvs at a quarter width, T=10, 5 models; measured 21 min on 2 idle "
        "CPU cores (docs/reproduce.md)",
    ),
    "paper-cifar10": (
        {"name": "paper-cifar10", "dataset": "cifar10", "arch": "vgg11", "T": 8, "poisson_T": 16, "epochs": 200,
         "optimizer": "sgd", "lr": 0.1, "n": 1000, "eps": ["2/255", "4/255", "8/255", "12/255", "16/255"],
         "eps_main": "8/255", "attack_options": {"alpha": "2/255", "steps": 5}, "te": [1, 2, 3],
         "leaks": [0.5, 0.75, 1.0], "encoders": ["direct", "poisson"], "draws": 5},
        "the paper's setting: VGG-11 on CIFAR-10 (needs --data-dir), T=8 (Poisson 16), 200 epochs; "
        "meant for a GPU: days on CPUs, about 19 h on one H200 (estimated from one measured epoch; "
        "docs/reproduce.md)",
    ),
}


def preset(name: str, **overrides: Any) -> StudySpec:
    from snnsec.errors import unknown_choice

    if name not in PRESETS:
        raise unknown_choice("preset", name, PRESETS)
    return StudySpec.from_dict({**PRESETS[name][0], **overrides}, f"preset {name}")
