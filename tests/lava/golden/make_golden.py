"""Regenerate the golden spike trace of the tiny NetX network (run from the repository root).

    .venv/bin/python tests/lava/golden/make_golden.py

1. Builds a tiny vgg5 (width 1/8, 1x8x8, T=4, IF neurons, direct input with mean/std, seeded
   random float weights) and exports it with snnsec's NetX writer to ``tiny.net``.
2. Streams 3 samples of seeded random pixels (k/255) through lava-dl's own
   ``netx.hdf5.Network`` on Lava's CPU simulator in bit-accurate fixed point, recording every
   layer's spikes and the readout membrane.
3. Checks that run against snnsec's integer reference simulator (it must match bit for bit)
   and writes inputs, spikes and readout to ``tiny_golden.npz``.

The test replays ``tiny.net`` in Lava and compares with this file, so a change in Lava, lava-dl
or snnsec's streaming that alters a single spike shows up. Regenerate only when the network
itself is meant to change.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from snnsec.backends.lava.network import netx_network  # noqa: E402
from snnsec.backends.lava.runner import stream  # noqa: E402
from snnsec.export.graph import model_graph  # noqa: E402
from snnsec.export.netx_hdf5 import write_netx  # noqa: E402
from snnsec.export.quantize import quantize  # noqa: E402
from snnsec.export.reference import simulate_fixed  # noqa: E402
from tests.lava.tiny_models import tiny_vgg  # noqa: E402

N, T, SEED = 3, 4, 7


def main() -> None:
    model = tiny_vgg(encoder="direct", T=T, seed=SEED, normalization={"mean": [0.2], "std": [0.5]})
    fixed = quantize(model_graph(model))
    write_netx(fixed, HERE / "tiny.net")
    gen = torch.Generator().manual_seed(SEED)
    pixels = torch.randint(0, 256, (N, 1, 8, 8), generator=gen).float() / 255.0
    steps = pixels.unsqueeze(1).expand(N, T, 1, 8, 8).numpy()
    messages = fixed.messages(steps)
    result = stream(netx_network(HERE / "tiny.net", T, fixed.message_bits), messages, record_spikes=True)
    ref = simulate_fixed(fixed, np.swapaxes(messages, 0, 1))
    assert np.array_equal(result.readout, ref.readout[-1]), "Lava readout differs from the integer reference"
    spikes = {}
    for i, s in enumerate(result.spikes or []):
        if s is None:
            continue
        assert np.array_equal(s, np.swapaxes(ref.spikes[i], 0, 1)), f"layer {i}: Lava spikes differ from the reference"
        spikes[f"spikes_{i}"] = s.astype(np.uint8)
    np.savez_compressed(HERE / "tiny_golden.npz", messages=messages.astype(np.int16),
                        readout=result.readout.astype(np.int64), T=T, message_bits=fixed.message_bits, **spikes)
    total = sum(int(s.sum()) for s in spikes.values())
    print(f"wrote {HERE / 'tiny_golden.npz'}: {N} samples, {len(spikes)} spiking layers, {total} spikes")


if __name__ == "__main__":
    main()
