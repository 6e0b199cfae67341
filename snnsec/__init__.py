"""snnsec: can your spiking neural network be fooled, in PyTorch and on neuromorphic hardware?

Implements the Rate Gradient Approximation attack (Bu et al., CVPR 2023) and its STBP baseline
on Norse-based spiking models, and replays adversarial examples on Intel Lava / Loihi 2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from snnsec.models import SpikingModel


def load_model(path: Any, **nir_options: Any) -> "SpikingModel":
    """Load a model file safely (weights-only); see :func:`snnsec.models.io.load_model`.

    A ``*.nir`` file is imported as a NIR graph (:func:`snnsec.interop.nir.load_nir`, which takes
    ``nir_options`` such as ``T`` and ``dt``).
    """
    if str(path).endswith(".nir"):
        from snnsec.interop.nir import load_nir

        return load_nir(path, **nir_options)
    if nir_options:
        raise TypeError(f"options {sorted(nir_options)} apply to *.nir files only")
    from snnsec.models.io import load_model as _load

    return _load(path)


__all__ = ["__version__", "load_model"]
