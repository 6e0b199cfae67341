"""N-MNIST as event frames, read by tonic's own reader (``tonic.datasets.NMNIST``) from local files.

Layout under ``--data-dir D`` (the two archives of https://www.garrickorchard.com/datasets/n-mnist,
extracted)::

    D/NMNIST/Train/<digit>/*.bin      60,000 recordings
    D/NMNIST/Test/<digit>/*.bin       10,000 recordings

A ``.bin`` file holds 5-byte events: x, y, then polarity (bit 7) and a 23-bit timestamp in µs
(a y of 240 marks a timestamp overflow); tonic decodes it (``read_mnist_file``) and takes the label
from the folder's last character. The sensor is 34x34 with 2 polarities; frames keep that size by
default (the reference code's ``init_s = 34``), ``T = 10`` bins, and ``x = min(count, 8) / 8``.
The splits are the official ones. tonic's own download check (the ``train.zip``/``test.zip``
archives plus 10,000 files) is replaced by snnsec's: the extracted split folder must exist.
"""

from __future__ import annotations

from snnsec.data.base import register_dataset
from snnsec.data.tonic_frames import TonicFrames


@register_dataset
class NMNISTFrames(TonicFrames):
    name = "nmnist"
    title = "N-MNIST"
    classes = tuple(str(d) for d in range(10))
    tonic_name = "NMNIST"
    folders = {"train": "Train", "test": "Test"}
    suffix = ".bin"
    sensor = (34, 34, 2)
    default_T, default_size, count_cap = 10, 34, 8
    sizes = {"train": 60000, "test": 10000}
    layout = "D/NMNIST/Train/<digit>/*.bin and D/NMNIST/Test/<digit>/*.bin (the extracted archives)"
    description = "N-MNIST: MNIST digits recorded by a moving event camera, as T x 2 x 34 x 34 frames (60,000 / 10,000)"
    citation = (
        "G. Orchard, A. Jayawant, G. K. Cohen, N. Thakor. Converting Static Image Datasets to Spiking "
        "Neuromorphic Datasets Using Saccades. Front. Neurosci. 9:437, 2015."
    )
    url = "https://www.garrickorchard.com/datasets/n-mnist"
