"""The MNIST-5k demo vgg5 on lava-sim in bit-accurate fixed point (issue 5 and issue 9 acceptance).

200 class-mixed test digits (the fixed permutation ``snnsec craft --n 200`` attacks) and their
``rga-pgd`` adversarial versions at the demo's eps stream through ONE Lava runtime (400 samples,
about 1,600 Lava steps, 1-2 minutes on 2 cores). That one run serves both tests: torch against
Lava (agreement and transfer), and the loihi2-emu emulator against Lava, label for label and
readout for readout.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnsec.attacks import AttackSpec
from snnsec.attacks.craft import craft
from snnsec.backends.replay import backend_figures, backend_predict, flatten_adversarial
from snnsec.demo import DEMO_EPS

pytestmark = [pytest.mark.lava, pytest.mark.slow]


@pytest.fixture(scope="module")
def lava_run(demo_model_path, mnist_test):
    """The demo model, its 200 digits and rga-pgd versions, and lava-sim's prediction of all 400."""
    import snnsec

    model = snnsec.load_model(demo_model_path)
    adv = craft(model, mnist_test, AttackSpec("rga-pgd", eps=DEMO_EPS), n=200, batch_size=100, seed=0).adv
    both = torch.cat([adv.x, adv.x_adv])
    lava = backend_predict(model, both, "lava-sim", seed=0, precision="fixed", show_progress=False)
    return model, adv, both, lava


def test_demo_model_agrees_with_torch_and_rga_pgd_transfers(lava_run):
    model, adv, both, lava = lava_run
    assert len(adv.y.unique()) == 10  # every digit class is represented
    ref = backend_predict(model, both, "torch", seed=0)
    report = flatten_adversarial(backend_figures("lava-sim", adv.y, ref.labels, lava.labels, ["adv"]))
    info = lava.info
    assert info["builder"] == "netx"  # lava-dl's own loader runs the exported file
    assert info["steps"] == 400 * model.T + info["latency_steps"]  # one runtime for all 400
    assert report["agreement"] >= 0.97, f"lava-sim agrees with torch on {report['agreement']:.1%} of 200 digits"
    assert report["asr_torch"] > 0.3  # the attack works in torch, so the ratio means something
    assert report["transfer_ratio"] >= 0.9, (
        f"ASR {report['asr_backend']:.1%} on lava-sim vs {report['asr_torch']:.1%} in torch"
    )


def test_emulator_equals_the_reference_on_all_test_digits_and_lava_on_the_400(lava_run, mnist_test):
    """The demo vgg5: 1,000 test digits on the emulator vs simulate_fixed; the 200 clean digits
    and their 200 adversarial versions vs lava-sim, labels and readout scores."""
    from snnsec.backends.base import input_steps
    from snnsec.backends.loihi2_emu import Loihi2EmuBackend
    from snnsec.data.base import sample_indices, stack_samples
    from snnsec.export.reference import simulate_fixed

    model, _, both, lava = lava_run
    emu = Loihi2EmuBackend(model, device="cpu", show_progress=False)
    x, _ = stack_samples(mnist_test, sample_indices(len(mnist_test), 1000))
    assert len(x) == 1000
    steps = input_steps(model, x, seed=0)
    pred, _ = emu.run_steps(steps)
    fixed = emu.fixed
    ref_labels = np.concatenate([
        simulate_fixed(fixed, np.swapaxes(fixed.messages(steps[i:i + 100]), 0, 1)).readout[-1].argmax(1)
        for i in range(0, 1000, 100)])
    np.testing.assert_array_equal(pred.labels, ref_labels)
    on_lava_inputs = emu.predict(both, seed=0)
    np.testing.assert_array_equal(on_lava_inputs.labels, lava.labels)
    np.testing.assert_array_equal(on_lava_inputs.scores, lava.scores)
