"""The MNIST-5k demo vgg5 on lava-sim in bit-accurate fixed point (issue 5 acceptance).

200 class-mixed test digits (the fixed permutation ``snnsec craft --n 200`` attacks) and their
``rga-pgd`` adversarial versions at the demo's eps stream through ONE Lava runtime (400 samples,
about 1,600 Lava steps, 1-2 minutes on 2 cores).
"""

from __future__ import annotations

import pytest

from snnsec.attacks import AttackSpec
from snnsec.attacks.craft import craft
from snnsec.backends.replay import deploy_report
from snnsec.demo import DEMO_EPS

pytestmark = [pytest.mark.lava, pytest.mark.slow]


def test_demo_model_agrees_with_torch_and_rga_pgd_transfers(demo_model, mnist_test):
    adv = craft(demo_model, mnist_test, AttackSpec("rga-pgd", eps=DEMO_EPS), n=200, batch_size=100, seed=0).adv
    assert len(adv.y.unique()) == 10  # every digit class is represented

    report = deploy_report(demo_model, adv.x, adv.y, backend="lava-sim", x_adv=adv.x_adv,
                           precision="fixed", show_progress=False)
    info = report["backend_info"]
    assert info["builder"] == "netx"  # lava-dl's own loader runs the exported file
    assert info["steps"] == 400 * demo_model.T + info["latency_steps"]  # one runtime for all 400
    assert report["agreement"] >= 0.97, f"lava-sim agrees with torch on {report['agreement']:.1%} of 200 digits"
    assert report["asr_torch"] > 0.3  # the attack works in torch, so the ratio means something
    assert report["transfer_ratio"] >= 0.9, (
        f"ASR {report['asr_backend']:.1%} on lava-sim vs {report['asr_torch']:.1%} in torch"
    )
