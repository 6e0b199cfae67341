"""The reliable suite (AutoAttack-style ensemble) and the gradient-masking checks."""

from __future__ import annotations

import json

import pytest
import torch

from snnsec.data.base import sample_indices
from snnsec.errors import InputError
from snnsec.evaluation import reliable
from snnsec.evaluation.masking import MaskingFigures, masking_warnings, measure_masking
from snnsec.evaluation.reliable import RELIABLE_SUITE, reliable_evaluation, suite_steps

from .helpers import batch


def test_budget_splits_gradient_evaluations_evenly() -> None:
    assert suite_steps(None) == [100] * len(RELIABLE_SUITE)
    assert suite_steps(10 * len(RELIABLE_SUITE) + 1) == [10] * len(RELIABLE_SUITE)
    assert suite_steps(2) == [1] * len(RELIABLE_SUITE)
    with pytest.raises(InputError, match="budget must be a positive number of gradient evaluations per sample, got 0"):
        suite_steps(0)


def test_suite_members_are_registered_attacks() -> None:
    from snnsec.attacks import split_attack_name
    from snnsec.attacks.losses import LOSSES

    for entry in RELIABLE_SUITE:
        split_attack_name(entry.attack)
        assert entry.loss in LOSSES


def test_reliable_suite_counts_a_sample_robust_only_if_every_attack_fails(demo_model, mnist_test, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "row.json"
    result = reliable_evaluation(demo_model, mnist_test, "0.1", n=24, batch_size=8, budget=2 * len(RELIABLE_SUITE), out=out, model_sha256="abc")
    r = result.report
    assert json.loads(out.read_text())["robust_accuracy"] == r["robust_accuracy"]
    assert not (tmp_path / "row.json.partial").exists()
    for key in ("model_sha256", "architecture", "dataset", "T", "neuron", "eps", "clean_accuracy",
                "robust_accuracy", "attacks", "n", "forward_passes", "backward_passes"):
        assert key in r, key
    assert r["eps"] == "0.1" and r["n"] == 24 and [a["steps"] for a in r["attacks"]] == [2] * len(RELIABLE_SUITE)
    # robust accuracy only falls along the suite, and the worst case is its last value
    after = [a["robust_accuracy_after"] for a in r["attacks"]]
    assert after == sorted(after, reverse=True) and after[-1] == r["robust_accuracy"] <= r["clean_accuracy"]
    assert sum(a["fooled"] for a in r["attacks"]) == round((r["clean_accuracy"] - r["robust_accuracy"]) * 24)
    # each later attack only sees what survived the earlier ones
    assert all(b["attacked"] == round(a["robust_accuracy_after"] * 24) for a, b in zip(r["attacks"], r["attacks"][1:]))
    # the flags are real: every non-robust sample's stored input is misclassified and in the ball
    x, y = batch(mnist_test, 24)
    with torch.no_grad():
        pred = demo_model(result.x_adv).argmax(1)
    assert torch.equal(result.robust, pred == y)
    assert float((result.x_adv.double() - x.double()).abs().max()) <= 0.1
    assert r["backward_passes"] == sum(a["attacked"] * a["steps"] for a in r["attacks"])


def test_reliable_suite_resumes_finished_attacks(demo_model, mnist_test, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "row.json"
    options = dict(n=16, batch_size=8, budget=5, out=out)
    real_build = reliable.SuiteAttack.build
    calls: list[str] = []

    def failing_build(self, eps, domain, steps):  # type: ignore[no-untyped-def]
        if self.attack == RELIABLE_SUITE[2].attack:
            raise KeyboardInterrupt
        return real_build(self, eps, domain, steps)

    monkeypatch.setattr(reliable.SuiteAttack, "build", failing_build)
    with pytest.raises(KeyboardInterrupt):
        reliable_evaluation(demo_model, mnist_test, "0.1", **options)
    assert (tmp_path / "row.json.partial" / "attack-0").is_dir()

    def counting_build(self, eps, domain, steps):  # type: ignore[no-untyped-def]
        attack = real_build(self, eps, domain, steps)
        original = attack.perturb

        def perturb(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(self.attack)
            return original(*args, **kwargs)

        attack.perturb = perturb  # type: ignore[method-assign]
        return attack

    monkeypatch.setattr(reliable.SuiteAttack, "build", counting_build)
    resumed = reliable_evaluation(demo_model, mnist_test, "0.1", **options).report
    assert RELIABLE_SUITE[0].attack not in calls and RELIABLE_SUITE[1].attack not in calls
    monkeypatch.setattr(reliable.SuiteAttack, "build", real_build)
    fresh = reliable_evaluation(demo_model, mnist_test, "0.1", n=16, batch_size=8, budget=5).report
    assert resumed["robust_accuracy"] == fresh["robust_accuracy"] and resumed["attacks"] == fresh["attacks"]



def _own_labels(model, data, n: int):  # type: ignore[no-untyped-def]
    """The first ``n`` samples of ``data`` labelled with ``model``'s clean predictions, so that an
    untrained model is right on all of them and every suite member has samples to attack."""
    from torch.utils.data import TensorDataset

    x, _ = batch(data, n)
    with torch.no_grad():
        y = model(x).argmax(1)
    return TensorDataset(x, y)


def test_each_member_of_the_suite_is_the_same_attack_as_run_alone(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """The property behind "worst case <= every member alone": replaying every member through
    ``craft`` on its own (same samples, batch size and seed) and keeping, sample by sample, the
    first that fools it reproduces the suite: its flags and counts exactly, its inputs to float
    rounding."""
    from snnsec.attacks.craft import craft
    from snnsec.models import build_model

    from .helpers import make_active

    torch.manual_seed(0)
    model = build_model("vgg5", num_classes=10, input_shape=(1, 28, 28), T=2, width=0.25).eval()
    x0, _ = batch(mnist_test, 32)
    make_active(model, x0)
    n, size, eps, steps = 14, 4, "0.03", 3  # 4 batches, the last one short
    data = _own_labels(model, mnist_test, n)
    result = reliable_evaluation(model, data, eps, n=n, batch_size=size, seed=7, budget=steps * len(RELIABLE_SUITE))
    assert result.report["clean_accuracy"] == 1.0

    robust = torch.ones(n, dtype=torch.bool)
    x_worst = torch.stack([data[int(i)][0] for i in sample_indices(n, n)])
    first_fooled_by = []
    for entry in RELIABLE_SUITE:
        adv = craft(model, data, entry.spec(eps, steps), n=n, batch_size=size, seed=7).adv
        with torch.no_grad():
            fooled = model(adv.x_adv).argmax(1) != adv.y
        # each member alone leaves at least the suite's survivors robust
        assert not (result.robust & fooled).any(), entry
        newly = robust & fooled
        x_worst[newly] = adv.x_adv[newly]
        robust &= ~fooled
        first_fooled_by.append(int(newly.sum()))
    assert torch.equal(robust, result.robust)
    # the suite attacks only the still-robust rows of a batch, as a smaller batch, and torch's CPU
    # kernels may round a sample's gradient differently in a batch of another size (two inputs 9e-8
    # off on one machine): equal to 1e-6, far below the 0.03 of eps a wrong member would be off by
    torch.testing.assert_close(result.x_adv, x_worst, rtol=0, atol=1e-6)
    assert first_fooled_by == [a["fooled"] for a in result.report["attacks"]]
    # not vacuous: more than one member fools something, and something survives the first
    assert sum(1 for f in first_fooled_by if f) >= 2 and first_fooled_by[0] < n, first_fooled_by


def test_attacking_some_rows_of_a_batch_equals_attacking_the_whole_batch() -> None:
    from snnsec.attacks import AttackSpec
    from snnsec.models import build_model

    torch.manual_seed(1)
    model = build_model("vgg5", num_classes=10, input_shape=(1, 28, 28), T=2, width=0.25).eval()
    x = torch.rand(6, 1, 28, 28)
    y = torch.arange(6) % 10
    attack = AttackSpec("stbp-apgd", eps="0.05", steps=3).build()
    whole = attack(model, x, y, torch.Generator().manual_seed(3))
    active = torch.tensor([False, True, True, False, False, True])
    some = attack(model, x, y, torch.Generator().manual_seed(3), active=active)
    assert torch.equal(some[active], whole[active]) and torch.equal(some[~active], x[~active])
    assert not torch.equal(whole[active], x[active])
    # what the suite did before: attacking the rows alone draws other random starts
    alone = attack(model, x[active], y[active], torch.Generator().manual_seed(3))
    assert not torch.equal(alone, whole[active])
    with pytest.raises(InputError, match="active must be a bool mask of shape"):
        attack(model, x, y, active=torch.ones(5, dtype=torch.bool))

# -- gradient-masking checks ------------------------------------------------------------------------
HEALTHY = MaskingFigures(eps=0.1, sweep={0.05: 0.7, 0.1: 0.4, 0.2: 0.05, 1.0: 0.0}, pgd=0.4, fgsm=0.7, noise=0.95,
                         zero_gradient_share=0.01, transfer=0.6)


@pytest.mark.parametrize("change,fires", [
    ({"sweep": {0.05: 0.7, 0.1: 0.4, 0.2: 0.3, 1.0: 0.35}}, "large eps"),
    ({"sweep": {0.05: 0.5, 0.1: 0.4, 0.2: 0.6, 1.0: 0.0}}, "not monotone"),
    ({"fgsm": 0.3}, "single step beats iterative"),
    ({"transfer": 0.2}, "transfer beats white box"),
    ({"noise": 0.3}, "noise beats gradients"),
    ({"zero_gradient_share": 0.8}, "zero gradients"),
])
def test_each_masking_check_fires_on_its_symptom_alone(change: dict, fires: str) -> None:
    assert masking_warnings(HEALTHY) == []
    import dataclasses

    warnings = masking_warnings(dataclasses.replace(HEALTHY, **change))
    assert len(warnings) == 1 and warnings[0].startswith(fires), warnings


class _Shatter(torch.nn.Module):
    """A deliberately masked input layer: rounds the input, so every input gradient is exactly 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x * 4) / 4


@pytest.mark.slow
def test_masking_checks_fire_on_a_masked_model_and_stay_quiet_on_the_demo(demo_model, mnist_test) -> None:  # type: ignore[no-untyped-def]
    x, y = batch(mnist_test, 32)
    plain = measure_masking(demo_model, x, y, 0.1, steps=5)
    assert masking_warnings(plain) == [], plain
    demo_model.body.insert(0, _Shatter())
    masked = measure_masking(demo_model, x, y, 0.1, steps=5)
    warnings = masking_warnings(masked)
    assert any(w.startswith("zero gradients") for w in warnings), (masked, warnings)
    assert any(w.startswith("large eps") for w in warnings), (masked, warnings)
