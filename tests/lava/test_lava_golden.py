"""A real Lava run of the committed tiny NetX file reproduces the committed golden spike trace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.lava

GOLDEN = Path(__file__).parent / "golden"


def test_netx_file_reproduces_golden_spikes_and_readout():
    from snnsec.backends.lava.network import netx_network
    from snnsec.backends.lava.runner import stream
    from snnsec.export.netx_hdf5 import read_netx_meta

    golden = np.load(GOLDEN / "tiny_golden.npz")
    meta = read_netx_meta(GOLDEN / "tiny.net")
    assert meta["T"] == int(golden["T"]) and meta["input_message_bits"] == int(golden["message_bits"])
    net = netx_network(GOLDEN / "tiny.net", meta["T"], meta["input_message_bits"])
    result = stream(net, golden["messages"].astype(np.int64), record_spikes=True, chunk=2)
    assert result.steps == 3 * meta["T"] + meta["latency"]
    np.testing.assert_array_equal(result.readout, golden["readout"])
    recorded = [s for s in result.spikes if s is not None]
    expected = [golden[f"spikes_{i}"] for i in range(len(recorded))]
    assert len(recorded) == 4
    for i, (got, want) in enumerate(zip(recorded, expected)):
        assert got.shape == want.shape, f"layer {i}"
        mismatch = int(np.sum(got != want))
        assert mismatch == 0, f"layer {i}: {mismatch} of {want.size} spikes differ from the golden trace"
    assert all(s.sum() > 0 for s in expected)  # every layer is active, so the comparison has teeth
