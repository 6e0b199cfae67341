"""The emulator against Lava's own fixed-point run: identical spikes and readouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnsec.backends.base import input_steps
from tests.emulator.models import tiny_resnet
from tests.lava.tiny_models import tiny_vgg

pytestmark = [pytest.mark.lava, pytest.mark.cost(22)]

CASES = {
    # name: (model, expected lava-sim builder)
    "conv chain, poisson input": (lambda: tiny_vgg(encoder="poisson", T=6, seed=3), "netx"),
    "leak 0.5, graded direct input": (lambda: tiny_vgg(encoder="direct", leak=0.5, T=5, seed=1,
                                                       normalization={"mean": [0.5], "std": [0.25]}), "netx"),
    "soft reset": (lambda: tiny_vgg(encoder="poisson", reset="soft", T=5, seed=2), "lava-nc"),
    "residual block": (lambda: tiny_resnet(encoder="poisson", leak=0.9, reset="soft", T=3, seed=2), "lava-nc"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_emulator_is_identical_to_lava_sim_fixed_point(case):
    """Every population's spikes (latency-aligned) and the readout v, sample by sample; Lava's
    run also equals the integer reference (simulate_fixed) on the same spikes and readout."""
    from snnsec.backends.lava_sim import LavaSimBackend
    from snnsec.backends.loihi2_emu import Loihi2EmuBackend
    from snnsec.export.reference import simulate_fixed

    build, builder = CASES[case]
    model = build()
    x = torch.rand(3, *model.meta.input_shape, generator=torch.Generator().manual_seed(11))
    steps = input_steps(model, x, seed=4)
    lava = LavaSimBackend(model, precision="fixed", show_progress=False)
    assert lava.builder == builder
    lava_pred, lava_res = lava.run_steps(steps, record_spikes=True)
    ref = simulate_fixed(lava.fixed, np.swapaxes(lava.fixed.messages(steps), 0, 1))
    np.testing.assert_array_equal(lava_res.readout, ref.readout[-1])
    emu = Loihi2EmuBackend(model, device="cpu", batch_size=2, show_progress=False)
    emu_pred, emu_res = emu.run_steps(steps, record_spikes=True)
    np.testing.assert_array_equal(emu_res.readout, lava_res.readout)
    np.testing.assert_array_equal(emu_pred.scores, lava_pred.scores)
    fired = 0
    for i, (got, want) in enumerate(zip(emu_res.spikes, lava_res.spikes)):
        assert (got is None) == (want is None)
        if want is not None:
            assert np.array_equal(got, want), f"{emu.fixed.populations[i].name}: {int((got != want).sum())} spikes differ"
            np.testing.assert_array_equal(want, np.swapaxes(ref.spikes[i], 0, 1))
            fired += int(want.sum())
    assert fired > 100


# The demo vgg5 against simulate_fixed (1,000 digits) and lava-sim (300): tests/lava/test_lava_demo_model.py,
# which shares one Lava run of those digits with the torch-vs-Lava transfer test.


def test_check_lava_finds_no_difference_and_names_the_first_one_it_is_shown():
    from snnsec.backends.loihi2_emu import Loihi2EmuBackend, first_difference

    model = tiny_vgg(encoder="poisson", T=4, seed=3)
    emu = Loihi2EmuBackend(model, device="cpu", show_progress=False)
    steps = input_steps(model, torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(1)), seed=2)
    report = emu.check_lava(steps, 3)
    assert report == {"samples": 3, "identical": True, "first_difference": None, "lava_seconds": report["lava_seconds"]}
    # a corrupted copy: the first difference is named by sample, step and layer
    _, a = emu.run_steps(steps[:3], record_spikes=True)
    _, b = emu.run_steps(steps[:3], record_spikes=True)
    b.spikes[2][2, 3].flat[0] ^= 1
    b.spikes[1][1, 2].flat[0] ^= 1
    names = [p.name for p in emu.fixed.populations]
    assert first_difference(a, b, names) == {"sample": 1, "layer": names[1], "step": 2, "what": "spikes"}
    b.spikes[1][1, 2].flat[0] ^= 1
    b.spikes[2][2, 3].flat[0] ^= 1
    b.readout = b.readout.copy()
    b.readout[0, 0] += 1
    assert first_difference(a, b, names) == {"sample": 0, "layer": "readout", "step": None, "what": "readout v"}


def test_check_lava_sets_runs_every_set_and_names_a_difference_by_set_and_sample():
    from snnsec.backends import loihi2_emu

    model = tiny_vgg(encoder="poisson", T=3, seed=4)
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    both = torch.cat([x, x.flip(0)])
    report = loihi2_emu.check_lava_sets(model, {"clean": (both, 0), "adv": (both, 4)}, 2, seed=1,
                                        device="cpu", show_progress=False)
    assert report["identical"] and report["samples"] == 4 and report["sets"] == ["clean", "adv"]
    # row 3 of the checked stream [clean 0, clean 1, adv 0, adv 1] is adv sample 1
    rows = [("clean", 0), ("clean", 1), ("adv", 0), ("adv", 1)]
    first = loihi2_emu.locate({"sample": 3, "layer": "body.2", "step": 1, "what": "spikes"}, rows)
    assert first == {"sample": 1, "set": "adv", "layer": "body.2", "step": 1, "what": "spikes"}
    line = loihi2_emu.difference_line({"first_difference": first})
    assert line.startswith("loihi2-emu differs from lava-sim: adv sample 1, layer body.2, step 1 (spikes)")
