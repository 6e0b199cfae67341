"""The AEDAT4 writer produces files the real decoders (aedat, tonic.io.read_aedat4) read back exactly."""

from __future__ import annotations

import aedat
import numpy as np
import pytest
from tonic.io import read_aedat4

from snnsec.data.aedat4_writer import MAGIC, aedat4_bytes, synthetic_events, write_aedat4
from snnsec.errors import InputError


@pytest.mark.parametrize("n", [1, 4096, 5000])  # one event, exactly one packet, two packets
def test_round_trip_through_tonic(tmp_path, n):
    events = synthetic_events(n, 128, 96, seed=n)
    path = tmp_path / "rec.aedat4"
    write_aedat4(path, events, width=128, height=96)
    back = read_aedat4(str(path))
    back.dtype.names = ["t", "x", "y", "p"]  # what tonic's CIFAR10DVS does
    assert len(back) == n
    for field in ("t", "x", "y", "p"):
        np.testing.assert_array_equal(back[field].astype(np.int64), events[field].astype(np.int64))


def test_header_declares_one_event_stream_with_the_sensor_size(tmp_path):
    path = tmp_path / "rec.aedat4"
    write_aedat4(path, synthetic_events(10, 64, 32, seed=0), width=64, height=32, durable=False)
    assert path.read_bytes().startswith(MAGIC)
    assert aedat.Decoder(str(path)).id_to_stream() == {0: {"type": "events", "width": 64, "height": 32}}
    assert not list(tmp_path.glob(".*.tmp")), "temporary files must be renamed away"


def test_writer_refuses_events_outside_the_sensor():
    events = synthetic_events(5, 8, 8, seed=0)
    events["x"][2] = 8
    with pytest.raises(InputError, match="outside the 8x8 sensor"):
        aedat4_bytes(events, width=8, height=8)
