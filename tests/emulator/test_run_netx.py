"""run_netx on NetX files that lava-dl's own slayer blocks export, against Lava running them."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from snnsec.emulator import run_netx
from snnsec.errors import InputError
from tests.emulator.lava_netx import lava_netx_run

pytestmark = pytest.mark.cost(10)  # rough CPU seconds under the suite: orders the xdist schedule

CUBA = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03, "requires_grad": False}


def _slayer():
    from snnsec._lava_compat import install

    install()  # slayer imports torchvision-dependent modules without the shim
    from lava.lib.dl import slayer

    return slayer


def _export(blocks, path: Path, input_shape: tuple[int, ...] | None, example: torch.Tensor) -> Path:
    with torch.no_grad():  # one forward pass sizes lazily built parts (delays)
        x = example
        for b in blocks:
            x = b(x)
    with h5py.File(path, "w") as f:
        layer = f.create_group("layer")
        offset = 0
        if input_shape is not None:
            g = layer.create_group("0")
            g.create_dataset("type", (1,), "S10", [b"input"])
            g.create_dataset("shape", data=np.array(input_shape))
            offset = 1
        for i, b in enumerate(blocks):
            b.export_hdf5(layer.create_group(str(i + offset)))
    return path


@pytest.fixture(scope="module")
def conv_net(tmp_path_factory) -> Path:
    """conv (stride 2, padding 1) -> flatten -> dense with synaptic delays -> recurrent dense -> dense."""
    slayer = _slayer()
    torch.manual_seed(0)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Conv(CUBA, 2, 4, 3, padding=1, stride=2, weight_scale=2),
        slayer.block.cuba.Flatten(),
        slayer.block.cuba.Dense(CUBA, 4 * 4 * 4, 10, weight_scale=2, delay=True),
        slayer.block.cuba.Recurrent(CUBA, 10, 6, weight_scale=2),
        slayer.block.cuba.Dense(CUBA, 6, 3, weight_scale=2),
    ])
    path = _export(blocks, tmp_path_factory.mktemp("netx") / "conv.net", (2, 8, 8),
                   (torch.rand(1, 2, 8, 8, 4) > 0.5).float())
    with torch.no_grad():
        blocks[2].delay.delay.data = torch.arange(10).float() % 4  # axonal delays 0..3
    return _export(blocks, path, (2, 8, 8), (torch.rand(1, 2, 8, 8, 4) > 0.5).float())


@pytest.fixture(scope="module")
def dense_net(tmp_path_factory) -> Path:
    """Two dense layers from a graded 20-channel input, exported by slayer without an input layer."""
    slayer = _slayer()
    torch.manual_seed(1)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Dense(CUBA, 20, 12, weight_scale=2),
        slayer.block.cuba.Dense(CUBA, 12, 4, weight_scale=2),
    ])
    return _export(blocks, tmp_path_factory.mktemp("netx") / "dense.net", None, torch.rand(1, 20, 4))


def _assert_same(run, lava, n: int, check_v: bool) -> int:
    fired = 0
    for i, (got, want) in enumerate(zip(run.layers, lava)):
        assert got.spikes[n].shape == want["spikes"].shape, f"layer {i}"
        assert np.array_equal(got.spikes[n], want["spikes"]), f"layer {i} ({got.type}): spikes differ"
        if check_v:
            assert np.array_equal(got.v[n], want["v"]), f"layer {i} ({got.type}): v differs"
        fired += int(want["spikes"].sum())
    return fired


@pytest.mark.lava
def test_slayer_conv_delay_recurrent_network_equals_lava(conv_net):
    rng = np.random.default_rng(0)
    x = (rng.random((2, 8, 8, 2, 14)) < 0.4).astype(np.int64)  # [N, W, H, C, steps], unary
    x[1, 0, 0, 0, :] = 7  # any non-zero payload is one spike on a unary port
    run = run_netx(conv_net, x, record_state=True, device="cpu")
    assert [layer.type for layer in run.layers] == ["conv", "dense", "dense_rec", "dense"]
    assert run.layers[0].spikes.shape == (2, 4, 4, 4, 14)
    assert any(s["delays"] for p in run.plan for s in p["synapses"])
    fired = sum(_assert_same(run, lava_netx_run(str(conv_net), x[n], record_v=True), n, True) for n in range(2))
    assert fired > 50


@pytest.mark.lava
def test_graded_input_and_reset_interval_equal_lava(dense_net):
    """Graded (8-bit) input messages, and netx's periodic reset staggered by layer."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 200, size=(1, 20, 12))
    options = {"input_message_bits": 8, "reset_interval": 5, "reset_offset": 1}
    run = run_netx(dense_net, x, record_state=True, device="cpu", **options)
    fired = _assert_same(run, lava_netx_run(str(dense_net), x[0], record_v=True, **options), 0, True)
    assert fired > 5
    unary = run_netx(dense_net, x, device="cpu")  # the same payloads read as unary spikes
    assert not np.array_equal(unary.layers[0].spikes, run.layers[0].spikes)


@pytest.mark.lava
def test_older_neuron_naming_and_dense_without_neuron_equal_lava(dense_net, tmp_path):
    """``LOIHI`` is netx's older name for CUBA; a dense layer without a neuron gets netx's
    default integrator (it never spikes)."""
    path = tmp_path / "old.net"
    path.write_bytes(Path(dense_net).read_bytes())
    with h5py.File(path, "r+") as f:
        del f["layer/0/neuron/type"]
        f["layer/0/neuron"].create_dataset("type", (1,), "S10", [b"LOIHI"])
        del f["layer/1/neuron"]
    x = np.random.default_rng(2).integers(0, 2, size=(1, 20, 10))
    run = run_netx(path, x, record_state=True, device="cpu")
    _assert_same(run, lava_netx_run(str(path), x[0], record_v=True), 0, True)
    assert run.layers[1].spikes.sum() == 0 and np.abs(run.layers[1].v).sum() > 0


@pytest.mark.lava
def test_input_layer_neuron_is_driven_through_its_bias_like_a_lava_lif(tmp_path):
    """lava-dl's Input block takes its input "through the neuron's bias"; lava-dl 0.6.0 cannot
    run that block itself, so the arithmetic is checked against a lava-nc LIF with that bias."""
    from snnsec._lava_compat import install

    install()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.lif.process import LIF

    from snnsec.backends.lava.runner import shutdown_runtime
    from snnsec.utils.malloc import release_free_memory

    slayer = _slayer()
    blocks = torch.nn.ModuleList([slayer.block.cuba.Input(CUBA)])
    path = _export(blocks, tmp_path / "input.net", None, torch.rand(1, 6, 4))
    with h5py.File(path, "r+") as f:
        del f["layer/0/shape"]
        f["layer/0"].create_dataset("shape", data=np.array([6]))
        neuron = {k: int(f[f"layer/0/neuron/{k}"][()]) for k in ("iDecay", "vDecay", "vThMant")}
    bias = np.array([10, 40, 64, 65, 100, -30])
    steps = 9
    x = np.repeat(bias[None, :, None], steps, axis=2)
    run = run_netx(path, x, record_state=True, device="cpu")
    lif = LIF(shape=(6,), du=neuron["iDecay"] - 1, dv=neuron["vDecay"], vth=neuron["vThMant"],
              bias_mant=bias, bias_exp=6)
    sink = Sink(shape=(6,), buffer=steps)
    lif.s_out.connect(sink.a_in)
    try:
        release_free_memory()  # as snnsec's runner does before Lava forks its workers
        lif.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        want = np.asarray(sink.data.get()).astype(np.int64)
    finally:
        shutdown_runtime(lif)
    assert np.array_equal(run.layers[0].spikes[0], want)
    assert 0 < want.sum() < want.size


def test_bad_files_and_inputs_are_refused_with_one_line(conv_net, tmp_path):
    bad = tmp_path / "bad.net"
    bad.write_text("not hdf5")
    with pytest.raises(InputError, match="not an HDF5 file"):
        run_netx(bad, np.zeros((1, 8, 8, 2, 3)))
    with pytest.raises(InputError, match=r"expected \[N, 8, 8, 2, steps\]"):
        run_netx(conv_net, np.zeros((1, 2, 8, 8, 3)))
    pooled = tmp_path / "pool.net"
    with h5py.File(pooled, "w") as f:
        f.create_dataset("layer/0/type", (1,), "S10", [b"pool"])
    with pytest.raises(InputError, match="layer type 'pool' is not supported"):
        run_netx(pooled, np.zeros((1, 4, 3)))


@pytest.mark.lava
def test_snnsec_exported_file_with_graded_direct_input_equals_lava(tmp_path):
    """snnsec's own NetX export (8-bit graded direct input, leak 0.5), streamed two samples back
    to back with netx's reset interval, as lava-sim runs it."""
    from snnsec.backends.base import input_steps
    from snnsec.export.graph import model_graph
    from snnsec.export.netx_hdf5 import write_netx
    from snnsec.export.quantize import quantize
    from tests.lava.tiny_models import tiny_vgg

    model = tiny_vgg(encoder="direct", leak=0.5, T=4, seed=3, normalization={"mean": [0.5], "std": [0.25]})
    fixed = quantize(model_graph(model))
    path = write_netx(fixed, tmp_path / "m.net")
    msgs = fixed.messages(input_steps(model, torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))))
    stream = np.moveaxis(msgs.reshape(1, 8, 1, 8, 8), 1, -1).transpose(0, 3, 2, 1, 4)  # [1, W, H, C, 2*T]
    stream = np.concatenate([stream, np.zeros(stream.shape[:-1] + (len(fixed.populations),), dtype=stream.dtype)], -1)
    options = {"input_message_bits": fixed.message_bits, "reset_interval": 4, "reset_offset": 1}
    run = run_netx(path, stream, record_state=True, device="cpu", **options)
    fired = _assert_same(run, lava_netx_run(str(path), stream[0], record_v=True, **options), 0, True)
    assert fired > 50
    # Lava's timing vs the emulator's logical time: sample j's last step reaches the readout
    # (latency L) at step j*T + T - 1 + L, where its v is the backend's readout
    from snnsec.emulator import emulator_for

    L = fixed.graph.latency
    logical = emulator_for(fixed, device="cpu").run(msgs).readout
    for j in range(2):
        np.testing.assert_array_equal(run.layers[-1].v[0, :, j * 4 + 3 + L], logical[j])
