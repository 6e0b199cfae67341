"""Input encoders: how an image or event sample becomes a T-step input sequence.

Each encoder maps a batch to ``[T, B, ...]`` with :meth:`Encoder.encode`, and to its time average
``[1, B, ...]`` with :meth:`Encoder.encode_mean`, which rate-domain gradients (RGA) use.
A new encoder is one file in this package plus one line in :data:`ENCODERS`.
"""

from __future__ import annotations

from snnsec.encoders.base import Encoder
from snnsec.encoders.direct import DirectEncoder
from snnsec.encoders.frames import FrameEncoder
from snnsec.encoders.poisson import PoissonEncoder
from snnsec.errors import unknown_choice

ENCODERS: dict[str, type[Encoder]] = {
    "direct": DirectEncoder,
    "poisson": PoissonEncoder,
    "frames": FrameEncoder,
}


def build_encoder(name: str, **kwargs: object) -> Encoder:
    """Build an encoder by name (``direct``, ``poisson``, ``frames``)."""
    if name not in ENCODERS:
        raise unknown_choice("encoder", name, ENCODERS)
    return ENCODERS[name](**kwargs)  # type: ignore[arg-type]


__all__ = ["ENCODERS", "DirectEncoder", "Encoder", "FrameEncoder", "PoissonEncoder", "build_encoder"]
