"""The L0 event threat model and the SDA sparse attack on event-frame models."""

from __future__ import annotations

import pytest
import torch

from snnsec.attacks.sparse import L0Events, SparseDifferentialAttack
from snnsec.errors import InputError
from snnsec.models import build_model

from .helpers import make_active

pytestmark = pytest.mark.cost(11)  # rough CPU seconds under the suite: orders the xdist schedule


def test_l0_projection_keeps_the_largest_changes_as_flips() -> None:
    threat = L0Events(budget=2)
    x = torch.tensor([[0.0, 1.0, 0.2, 0.9, 0.0]])
    wish = torch.tensor([[0.1, 0.0, 0.9, 0.95, 0.6]])  # changes: 0.1, 1.0, 0.7, 0.05, 0.6
    got = threat.project(wish, x)
    assert torch.equal(got, torch.tensor([[0.0, 0.0, 1.0, 0.9, 0.0]]))  # the two largest, flipped to the ends
    assert threat.changes(got, x).tolist() == [2]
    assert threat.flipped(torch.tensor([0.0, 0.49, 0.5, 1.0])).tolist() == [1.0, 1.0, 0.0, 0.0]
    with pytest.raises(InputError, match="L0 budget must be a non-negative whole number of events, got -1"):
        L0Events(budget=-1)


@pytest.fixture(scope="module")
def dvs():  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = build_model("vggdvs", num_classes=10, input_shape=(4, 2, 48, 48), T=4, encoder="frames", width=0.125).eval()
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(3, 4, 2, 48, 48, generator=g) < 0.05).float()  # binary event frames
    make_active(model, x)  # an untrained event model is silent otherwise
    with torch.no_grad():
        y = model(x).argmax(1)  # the model's own labels: every sample starts correctly classified
    return model, x, y


@pytest.mark.parametrize("budget", [0, 5, 40])
def test_sda_stays_within_the_l0_budget_and_keeps_frames_binary(dvs, budget: int) -> None:  # type: ignore[no-untyped-def]
    model, x, y = dvs
    sda = SparseDifferentialAttack(budget=budget, k_init=5, iterations=4)
    x_adv = sda(model, x, y, torch.Generator().manual_seed(0))
    assert x_adv.shape == x.shape and not x_adv.requires_grad
    changes = sda.threat_for(model).changes(x_adv, x)
    assert int(changes.max()) <= budget
    assert set(x_adv.unique().tolist()) <= {0.0, 1.0}
    if budget == 0:
        assert torch.equal(x_adv, x)


@pytest.mark.slow
def test_sda_fools_with_few_flips_and_beats_as_many_random_flips(dvs) -> None:  # type: ignore[no-untyped-def]
    model, x, y = dvs
    sda = SparseDifferentialAttack(budget=300, k_init=10, iterations=10)
    x_adv = sda(model, x, y, torch.Generator().manual_seed(0))
    threat = sda.threat_for(model)
    changes = threat.changes(x_adv, x)
    with torch.no_grad():
        fooled = model(x_adv).argmax(1) != y
    assert int(fooled.sum()) >= 1 and int(changes.max()) <= 300
    assert float(changes.float().mean()) < 0.02 * x[0].numel()  # sparse: under 2 % of the entries
    # the same number of flips at random positions hurts the model less
    g = torch.Generator().manual_seed(1)
    wish = torch.zeros_like(x).flatten(1)
    for i, c in enumerate(changes.tolist()):
        wish[i, torch.randperm(wish.shape[1], generator=g)[:c]] = 1.0
    random = torch.where(wish.view_as(x) > 0, threat.flipped(x), x)
    with torch.no_grad():
        logits_adv, logits_rand = model(x_adv), model(random)
    def margins(logits):  # type: ignore[no-untyped-def]
        true = logits.gather(1, y[:, None]).squeeze(1)
        return logits.scatter(1, y[:, None], float("-inf")).amax(1) - true
    assert bool((margins(logits_adv) > margins(logits_rand)).all())


def test_sda_refuses_frames_outside_the_domain(dvs) -> None:  # type: ignore[no-untyped-def]
    model, x, y = dvs
    with pytest.raises(InputError, match="clean frames must lie in the input domain"):
        SparseDifferentialAttack(budget=5)(model, x * 3, y)
