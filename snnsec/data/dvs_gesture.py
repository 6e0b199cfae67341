"""DVS128 Gesture as event frames, read by tonic's own reader (``tonic.datasets.DVSGesture``).

tonic reads its preprocessed release (recordings already cut into one gesture each, times in ms),
extracted under ``--data-dir D``::

    D/DVSGesture/ibmGestureTrain/user<NN>_<lighting>/<label>.npy     1,077 recordings
    D/DVSGesture/ibmGestureTest/user<NN>_<lighting>/<label>.npy      264 recordings

Each ``.npy`` is an array ``[N, 4]`` of events (x, y, polarity, t in ms); the file name is the
label (0..10). The sensor is 128x128 with 2 polarities. Frames: tonic's ``Downsample`` to 48x48 (the
input of the reference code's ``vgggesture``), ``T = 10`` bins, ``x = min(count, 16) / 16``. The
splits are the official ones (users 1-23 train, 24-29 test). tonic's download check (the archive
plus 100 files) is replaced by snnsec's: the extracted split folder must exist.
"""

from __future__ import annotations

from snnsec.data.base import register_dataset
from snnsec.data.tonic_frames import TonicFrames

GESTURES = (
    "hand clapping", "right hand wave", "left hand wave", "right arm clockwise", "right arm counter-clockwise",
    "left arm clockwise", "left arm counter-clockwise", "arm roll", "air drums", "air guitar", "other gestures",
)


@register_dataset
class DVSGestureFrames(TonicFrames):
    name = "dvs-gesture"
    title = "DVS-Gesture"
    classes = GESTURES
    tonic_name = "DVSGesture"
    folders = {"train": "ibmGestureTrain", "test": "ibmGestureTest"}
    suffix = ".npy"
    sensor = (128, 128, 2)
    default_T, default_size, count_cap = 10, 48, 16
    sizes = {"train": 1077, "test": 264}
    layout = "D/DVSGesture/ibmGestureTrain/user*_*/<label>.npy and D/DVSGesture/ibmGestureTest/... (tonic's release)"
    description = "DVS128 Gesture: 11 hand and arm gestures by 29 people, as T x 2 x 48 x 48 frames (1,077 / 264)"
    citation = (
        "A. Amir et al. A Low Power, Fully Event-Based Gesture Recognition System. CVPR 2017, pp. 7243-7252."
    )
    url = "https://research.ibm.com/interactive/dvsgesture/"
