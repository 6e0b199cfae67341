r"""The reliable suite: an AutoAttack-style ensemble of the strongest SNN attacks, one report.

A sample counts as robust only if it survives **every** attack of :data:`RELIABLE_SUITE`
(Croce & Hein, ICML 2020). The attacks run in order, each on the samples that are still robust,
so the worst case costs far less than running them all on every sample. The list is fixed, so
that figures from different models compare:

=====================  ======  =====================================================================
attack                 loss    why it is in the ensemble
=====================  ======  =====================================================================
``assg-sapgd``         ce      adaptive-sharpness surrogate + stable adaptive PGD (arXiv 2512.22522);
                               the strongest single attack measured on the demo model, so it runs
                               first and leaves little for the others
``assg-sapgd``         dlr     the same pair with the scale-free loss: a second trajectory where
                               cross-entropy saturates
``assg-apgd``          dlr     the same gradients with APGD's sign steps and adaptive step size
``stbp-apgd``          dlr     the training surrogate through time
``hart-apgd``          ce      rate + temporal information (HART, ICLR 2024)
``rga-apgd``           ce      rate-domain gradient (RGA, Bu et al. CVPR 2023); cheapest backward
=====================  ======  =====================================================================

Every attack gets the same number of gradient evaluations: 100 (AutoAttack's APGD), or fewer
under a ``budget``, the most gradient evaluations per sample over the whole suite (each attack
then gets ``budget // len(suite)``, at least 1).

**Each member is the same attack as run alone.** Samples are batched and seeded exactly as
``snnsec craft`` batches and seeds them: batch ``b`` holds positions ``b·B … (b+1)·B − 1`` of the
fixed sample order and is attacked with the seed :func:`~snnsec.attacks.craft.batch_seed`
``(seed, b)``, whichever member runs. A member attacks only the still-robust samples of a
batch, but draws its random start for the whole batch (``Attack(..., active=mask)``), and every
member's estimator computes a sample's gradient from that sample alone. So, on a model without
random parts, each member's adversarial input for a sample is the one ``snnsec craft --attack
<member> --loss <loss> --steps <steps> --seed <seed> --batch-size <B>`` crafts for it (to float
rounding: the still-robust rows run as a smaller batch, which torch's kernels may round
differently, see :meth:`~snnsec.attacks.attack.Attack.perturb`), and the worst case is at or
below every member's robust accuracy run alone, by construction
(``tests/attacks/test_sota_reliable.py``). ``pdsg`` is left out for that reason: its σ pools the
batch, so its result for a sample would depend on which samples are still robust. For a
Poisson encoder the spikes drawn differ with the batch's make-up, so there the bound holds only
on average.

**Report** (RobustBench-style row): model hash, architecture, dataset, T, neuron, ε exactly as
written, clean and robust accuracy, per attack the robust accuracy after it and how many samples
it fooled first, ``n``, and the forward and backward passes spent (counted in samples: each
gradient evaluation of one sample is one forward and one backward pass through the estimator,
each prediction one forward pass). Gradient-masking warnings
(:mod:`snnsec.evaluation.masking`) are added when ``masking_n`` > 0.

**Resume.** Like ``snnsec craft``: each finished (attack, batch) lands atomically in
``<out>.partial/attack-<i>/``; a run started again with the same options skips them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from snnsec.attacks.attack import Attack, AttackSpec
from snnsec.attacks.craft import PartialRun, attack_batch, batch_seed, discard_partial
from snnsec.attacks.gradients import build_estimator
from snnsec.attacks.losses import get_loss
from snnsec.attacks.optimizers import build_optimizer
from snnsec.attacks.threat import LinfBall, input_domain
from snnsec.data.base import sample_indices, stack_samples
from snnsec.errors import InputError
from snnsec.evaluation.masking import masking_warnings, measure_masking
from snnsec.models.base import SpikingModel
from snnsec.utils.device import module_device
from snnsec.utils.io import atomic_write_json
from snnsec.utils.numbers import parse_fraction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SuiteAttack:
    """One member of the ensemble: ``<gradient>-<optimizer>``, its loss, and its full step count."""

    attack: str
    loss: str
    steps: int = 100

    def spec(self, eps: str, steps: int) -> AttackSpec:
        """The same attack as a spec, as ``snnsec craft`` runs it alone."""
        return AttackSpec(self.attack, eps=eps, loss=self.loss, steps=steps)

    def build(self, eps: float, domain: tuple[float, float], steps: int) -> Attack:
        gradient, _, optimizer = self.attack.rpartition("-")
        return Attack(
            estimator=build_estimator(gradient),
            optimizer=build_optimizer(optimizer, steps=steps),
            threat=LinfBall(eps, *domain),
            loss=get_loss(self.loss),
        )


@dataclass
class ReliableResult:
    """The JSON row, which samples survived every attack (``[n]`` bool), and for each sample the
    first input that fooled it (its clean input if none did)."""

    report: dict[str, Any]
    robust: torch.Tensor
    x_adv: torch.Tensor


RELIABLE_SUITE: tuple[SuiteAttack, ...] = (
    SuiteAttack("assg-sapgd", "ce"),
    SuiteAttack("assg-sapgd", "dlr"),
    SuiteAttack("assg-apgd", "dlr"),
    SuiteAttack("stbp-apgd", "dlr"),
    SuiteAttack("hart-apgd", "ce"),
    SuiteAttack("rga-apgd", "ce"),
)
"""The fixed ensemble; see the module docstring for why each member is there."""

SUITES: dict[str, tuple[SuiteAttack, ...]] = {"reliable": RELIABLE_SUITE}
"""Named ensembles (``snnsec evaluate --suite NAME``)."""


def suite_steps(budget: int | None, suite: tuple[SuiteAttack, ...] = RELIABLE_SUITE) -> list[int]:
    """Gradient evaluations per sample of each attack under ``budget`` (per sample, whole suite)."""
    if budget is None:
        return [a.steps for a in suite]
    if budget < 1:
        raise InputError(f"budget must be a positive number of gradient evaluations per sample, got {budget}")
    share = max(1, budget // len(suite))
    return [min(a.steps, share) for a in suite]


def reliable_evaluation(
    model: SpikingModel,
    data: Dataset,
    eps: str,
    *,
    n: int | None = None,
    batch_size: int = 64,
    seed: int = 0,
    budget: int | None = None,
    suite: tuple[SuiteAttack, ...] = RELIABLE_SUITE,
    model_sha256: str | None = None,
    dataset: str | None = None,
    out: str | Path | None = None,
    masking_n: int = 0,
) -> "ReliableResult":
    """Run the ensemble on ``n`` samples of ``data`` (chosen by :func:`sample_indices`).

    Args:
        eps: L-inf budget as written (``"0.1"``, ``"8/255"``); stored verbatim.
        budget: most gradient evaluations per sample over the whole suite (``None``: 100 each).
        out: write the JSON row here (atomically); its ``<out>.partial/`` folder makes the run
            resumable.
        masking_n: run the gradient-masking checks on the first ``masking_n`` samples (0: skip).

    Returns:
        A :class:`ReliableResult`: the report (also written to ``out``; see the module
        docstring), the per-sample robust flags and the worst-case inputs.
    """
    from snnsec import __version__

    eps_value = parse_fraction(eps, "eps")
    steps = suite_steps(budget, suite)
    domain = input_domain(model)
    order = sample_indices(len(data), n)
    if len(order) < 1:
        raise InputError(f"nothing to evaluate: n={n} with {len(data)} samples in the split")
    x, y = stack_samples(data, order)
    fingerprint = {
        "model_sha256": model_sha256, "eps": eps, "n": len(order), "seed": seed, "batch_size": batch_size,
        "suite": [(a.attack, a.loss, s) for a, s in zip(suite, steps)], "seeding": "craft batches",
        "version": __version__,
    }
    folder = Path(f"{out}.partial") if out is not None else None

    clean = model.predict(x, batch_size, seed=seed) == y
    robust = clean.clone()
    x_worst = x.clone()
    forward, backward = len(x), 0
    rows = []
    batches = [torch.arange(b, min(b + batch_size, len(order))) for b in range(0, len(order), batch_size)]
    for a, (entry, n_steps) in enumerate(zip(suite, steps)):
        attack = entry.build(eps_value, domain, n_steps)
        run = PartialRun(folder / f"attack-{a}", fingerprint) if folder is not None else None
        if run is not None:
            run.open()
        attacked = int(robust.sum())
        fooled_here = 0
        for b, pos in enumerate(batches):
            active = robust[pos]
            if not bool(active.any()):
                continue
            todo = pos[active]
            index = order[todo]
            x_adv = run.load(b, index) if run is not None else None
            if x_adv is None:
                x_adv = attack_batch(attack, model, x[pos], y[pos], batch_seed(seed, b), active=active)[active]
                if run is not None:
                    run.save(b, index, x_adv)
            backward += len(todo) * attack.optimizer.n_steps
            forward += len(todo) * (attack.optimizer.n_steps + 1)
            fooled = model.predict(x_adv, batch_size, seed=seed) != y[todo]
            robust[todo[fooled]] = False
            x_worst[todo[fooled]] = x_adv[fooled]
            fooled_here += int(fooled.sum())
        rows.append({
            "attack": entry.attack, "loss": entry.loss, "steps": n_steps, "attacked": attacked,
            "fooled": fooled_here, "robust_accuracy_after": float(robust.double().mean()),
        })
        log.info("%s (%s, %d steps): robust accuracy %.2f%%", entry.attack, entry.loss, n_steps,
                 100 * float(robust.double().mean()))

    report: dict[str, Any] = {
        "model_sha256": model_sha256,
        "architecture": model.meta.arch,
        "dataset": dataset or getattr(model.meta, "dataset", None),
        "T": model.T,
        "neuron": model.neurons()[0].p._asdict() if model.neurons() else None,
        "encoder": model.meta.encoder,
        "threat_model": "Linf",
        "eps": eps,
        "eps_value": eps_value,
        "n": len(order),
        "clean_accuracy": float(clean.double().mean()),
        "robust_accuracy": float(robust.double().mean()),
        "attacks": rows,
        "budget": budget,
        "forward_passes": forward,
        "backward_passes": backward,
        "seed": seed,
        "snnsec_version": __version__,
    }
    if masking_n > 0:
        k = min(masking_n, len(x))
        dev = module_device(model)
        figures = measure_masking(model, x[:k].to(dev), y[:k].to(dev), eps_value, seed=seed)
        report["masking"] = {"n": k, **figures.to_dict(), "warnings": masking_warnings(figures)}
        for line in report["masking"]["warnings"]:
            log.warning("possible gradient masking: %s", line)
    if out is not None:
        atomic_write_json(out, report)
        if folder is not None:
            discard_partial(folder)
    return ReliableResult(report, robust, x_worst)
