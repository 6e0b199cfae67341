"""The MNIST-5k demo vgg5: the whole demo on all 1,000 test digits, and lava-sim on 300 of its
samples in bit-accurate fixed point (issue 5 and issue 9 acceptance).

ONE demo run (``snnsec demo`` at its default n = 1,000, all four attacks on loihi2-emu) and ONE
Lava runtime serve every test here. The Lava run streams the demo's first 200 digits (class-mixed:
the fixed permutation ``snnsec craft --n 200`` attacks; the demo crafts in batches of 100 with
per-batch seeds, so its first 200 ``rga-pgd`` examples are exactly what ``craft --n 200`` gives)
and the ``rga-pgd`` versions of the first 100 of them at the demo's eps: 300 samples, about 1,200
Lava steps (about 0.03 CPU-s per sample here with snnsec._lava_conv, 0.3 with Lava's own convolution). That run serves torch against
Lava (agreement on the 200 digits issue 5 names, and transfer) and the emulator against Lava,
label for label and readout for readout, on all 300. The demo's own Lava child is tested in
test_demo_chain.py and test_demo_lava_child.py, so the 1,000-digit demo runs without it
(``check_lava=0``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnsec.backends.replay import backend_figures, backend_predict, flatten_adversarial

pytestmark = [pytest.mark.lava, pytest.mark.slow, pytest.mark.cost(90)]

N_CLEAN = 200  # issue 5: lava-sim agrees with torch on >= 97 % of 200 test digits
# rga-pgd examples for the transfer ratio: on the first 100 digits torch's ASR is about 0.9 (88 of
# 98 correctly classified digits flipped), so the ratio >= 0.9 is measured on ~90 successes and
# fails if Lava loses a tenth of them; 200 gave the same ratio (0.99) at a third more Lava time.
N_ADV = 100


@pytest.fixture(scope="module")
def demo_run(demo_model_path, tmp_path_factory):
    """``snnsec demo`` with its defaults (1,000 digits, four attacks), without the Lava child."""
    from snnsec import demo

    out = tmp_path_factory.mktemp("demo-full")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SNNSEC_CACHE_DIR", str(demo_model_path.parent.parent))
        assert demo.demo_model_path() == demo_model_path  # the session model is the demo's cached model
        report = demo.run_demo(out_dir=out, check_lava=0)
    return out, report


@pytest.fixture(scope="module")
def lava_run(demo_model_path, demo_run):
    """The demo model, its first N_CLEAN digits, the rga-pgd versions of the first N_ADV of them
    (from the demo's file), and lava-sim's prediction of all of them in one runtime."""
    import snnsec
    from snnsec.data.adversarial import load_adversarial

    out, _ = demo_run
    model = snnsec.load_model(demo_model_path)
    adv = load_adversarial(out / "adv-rga-pgd.pt")
    y = adv.y[:N_CLEAN]
    inputs = torch.cat([adv.x[:N_CLEAN], adv.x_adv[:N_ADV]])
    lava = backend_predict(model, inputs, "lava-sim", seed=0, precision="fixed", show_progress=False)
    return model, y, inputs, lava


def test_demo_emulates_all_1000_test_digits(demo_run) -> None:
    """The demo's default n: every MNIST-5k test digit, clean and four attacks, on the emulator."""
    from snnsec import demo

    out, report = demo_run
    assert report["trained_now"] is False
    assert report["n"] == demo.DEMO_N == 1000
    assert list(report["attacks"]) == list(demo.DEMO_ATTACKS)
    assert report["backend_info"]["steps"] == 5 * 1000 * 4
    assert report["clean_accuracy"] >= 0.9 and report["agreement"] >= 0.97
    # PGD is at least as strong as FGSM for each gradient, on the emulator too
    a = report["attacks"]
    assert a["stbp-pgd"]["asr_backend"] >= a["stbp-fgsm"]["asr_backend"]
    assert a["rga-pgd"]["asr_backend"] >= a["rga-fgsm"]["asr_backend"]
    assert report["check_lava"] == 0 and "lava" not in report and "cross_check" not in report
    assert (out / "report.md").is_file() and (out / "report.json").is_file()


def test_demo_model_agrees_with_torch_and_rga_pgd_transfers(lava_run):
    model, y, inputs, lava = lava_run
    assert len(y.unique()) == 10  # every digit class is represented
    ref = backend_predict(model, inputs, "torch", seed=0)
    info = lava.info
    assert info["builder"] == "netx"  # lava-dl's own loader runs the exported file
    assert info["steps"] == (N_CLEAN + N_ADV) * model.T + info["latency_steps"]  # one runtime for all
    clean = backend_figures("lava-sim", y, ref.labels[:N_CLEAN], lava.labels[:N_CLEAN], [])
    assert clean["n"] == 200 and clean["agreement"] >= 0.97, (
        f"lava-sim agrees with torch on {clean['agreement']:.1%} of 200 digits")
    pairs = np.r_[0:N_ADV, N_CLEAN:N_CLEAN + N_ADV]  # the first N_ADV digits, then their rga-pgd versions
    report = flatten_adversarial(backend_figures("lava-sim", y[:N_ADV], ref.labels[pairs], lava.labels[pairs], ["adv"]))
    assert report["asr_torch"] > 0.3  # the attack works in torch, so the ratio means something
    assert report["transfer_ratio"] >= 0.9, (
        f"ASR {report['asr_backend']:.1%} on lava-sim vs {report['asr_torch']:.1%} in torch"
    )


def test_emulator_equals_the_reference_on_all_test_digits_and_lava_on_its_300(lava_run, mnist_test):
    """The demo vgg5: 1,000 test digits on the emulator vs simulate_fixed; the 200 clean digits
    and 100 adversarial versions vs lava-sim, labels and readout scores."""
    from snnsec.backends.base import input_steps
    from snnsec.backends.loihi2_emu import Loihi2EmuBackend
    from snnsec.data.base import sample_indices, stack_samples
    from snnsec.export.reference import simulate_fixed

    model, _, inputs, lava = lava_run
    emu = Loihi2EmuBackend(model, device="cpu", show_progress=False)
    x, _ = stack_samples(mnist_test, sample_indices(len(mnist_test), 1000))
    assert len(x) == 1000
    assert torch.equal(x[:N_CLEAN], inputs[:N_CLEAN])  # the demo's first digits are the test split's
    steps = input_steps(model, x, seed=0)
    pred, _ = emu.run_steps(steps)
    fixed = emu.fixed
    ref_labels = np.concatenate([
        simulate_fixed(fixed, np.swapaxes(fixed.messages(steps[i:i + 100]), 0, 1)).readout[-1].argmax(1)
        for i in range(0, 1000, 100)])
    np.testing.assert_array_equal(pred.labels, ref_labels)
    on_lava_inputs = emu.predict(inputs, seed=0)
    np.testing.assert_array_equal(on_lava_inputs.labels, lava.labels)
    np.testing.assert_array_equal(on_lava_inputs.scores, lava.scores)
