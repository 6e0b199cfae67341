"""Lava's CPU simulator (``Loihi2SimCfg``): bit-accurate Loihi 2 fixed point, or floating point.

Fixed point (default) runs the NetX file that ``snnsec export --format netx`` writes, loaded by
lava-dl's own ``netx.hdf5.Network``, whenever NetX can express the model (a chain of conv/dense
layers with hard-reset neurons). Residual models, soft reset and the float precision are built
from lava-nc processes directly (:func:`snnsec.backends.lava.network.process_network`). Both
give the same spikes as :func:`snnsec.export.reference.simulate_fixed`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from snnsec.backends.base import Prediction, input_steps, prediction
from snnsec.errors import InputError, unknown_choice
from snnsec.export.graph import SpikingGraph, model_graph
from snnsec.export.quantize import DEFAULT_INPUT_SCALE, FixedGraph, quantize
from snnsec.models.base import SpikingModel
from snnsec.utils.progress import progress

BUILDERS = ("auto", "netx", "lava-nc")
from snnsec.backends.lava.network import PRECISIONS  # noqa: E402  (one definition)


class LavaSimBackend:
    """Streams samples through one Lava runtime on the CPU.

    Args:
        model: a trained model.
        precision: ``fixed`` (bit-accurate Loihi 2 integers) or ``float``.
        builder: ``auto`` (NetX when it can express the model, in fixed point), ``netx`` or ``lava-nc``.
        input_scale: integer message per unit of direct input (255: 8-bit pixels enter exactly).
        chunk: samples per Lava ``run`` call (progress and Ctrl-C are handled between chunks).
        netx_path: keep the exported NetX file here instead of a temporary directory.
        show_progress: show a progress bar on stderr.
    """

    name = "lava-sim"

    def __init__(self, model: SpikingModel, precision: str = "fixed", builder: str = "auto",
                 input_scale: float = DEFAULT_INPUT_SCALE, chunk: int | None = None,
                 netx_path: str | os.PathLike[str] | None = None, show_progress: bool = True) -> None:
        if precision not in PRECISIONS:
            raise unknown_choice("precision", precision, PRECISIONS)
        if builder not in BUILDERS:
            raise unknown_choice("Lava builder", builder, BUILDERS)
        self.model = model.eval()
        self.precision = precision
        self.graph: SpikingGraph = model_graph(self.model)
        self.fixed: FixedGraph | None = quantize(self.graph, input_scale) if precision == "fixed" else None
        self.builder = self._choose_builder(builder)
        self.chunk = chunk
        self.netx_path = Path(netx_path) if netx_path is not None else None
        self.show_progress = show_progress

    def _choose_builder(self, builder: str) -> str:
        from snnsec.export.netx_hdf5 import check_netx_expressible

        if self.fixed is None:
            if builder == "netx":
                raise InputError("lava-dl NetX has fixed-point process models only; use --precision fixed "
                                 "or the lava-nc builder for float")
            return "lava-nc"
        if builder == "lava-nc":
            return builder
        try:
            check_netx_expressible(self.fixed)
        except InputError:
            if builder == "netx":
                raise
            return "lava-nc"
        return "netx"

    def messages(self, steps: np.ndarray) -> np.ndarray:
        """Input steps ``[N, T, ...]`` in [0, 1] -> what the Lava input source sends."""
        if self.fixed is not None:
            return self.fixed.messages(steps)
        if self.graph.input_spiking:
            return steps.astype(np.float64)
        off = self.graph.input_offset.reshape((-1,) + (1,) * (len(self.graph.input_shape) - 1))
        return steps.astype(np.float64) - off  # the encoder's 1/std is folded into the weights

    def run_steps(self, steps: np.ndarray, record_spikes: bool = False, run_cfg: Any = None) -> tuple[Prediction, Any]:
        """Run input steps ``[N, T, ...]``; returns the prediction and the raw stream result."""
        from snnsec.backends.lava.runner import stream

        msgs = self.messages(steps)
        with tempfile.TemporaryDirectory(prefix="snnsec-lava-") as tmp:
            net = self.network(Path(tmp))
            options = {} if self.show_progress else {"disable": True}
            bar = progress(total=len(msgs), desc=f"{self.name} ({self.precision})", unit="sample", **options)
            try:
                result = stream(net, msgs, chunk=self.chunk, record_spikes=record_spikes,
                                on_progress=lambda done: bar.update(done - bar.n), run_cfg=run_cfg)
            finally:
                bar.close()
        scale = 64.0 * self.fixed.populations[-1].scale if self.fixed is not None else 1.0
        info: dict[str, Any] = {
            "backend": self.name, "precision": self.precision, "builder": self.builder,
            "latency_steps": net.latency, "steps": result.steps, "seconds": round(result.seconds, 3),
            "samples_per_s": round(len(msgs) / result.seconds, 3) if result.seconds > 0 else None,
        }
        if self.fixed is not None:
            info["quantization"] = self.fixed.report_dicts()
        return prediction(result.readout / scale, **info), result

    def network(self, workdir: Path) -> Any:
        from snnsec.backends.lava.network import netx_network, process_network
        from snnsec.export.netx_hdf5 import write_netx

        if self.builder == "netx":
            assert self.fixed is not None  # _choose_builder only picks netx in fixed point
            path = self.netx_path or workdir / "model.net"
            write_netx(self.fixed, path, {"model": self.model.meta.to_dict()})
            return netx_network(path, self.graph.T, self.fixed.message_bits)
        return process_network(self.fixed if self.fixed is not None else self.graph, self.precision)

    def predict(self, x: torch.Tensor, seed: int = 0) -> Prediction:
        pred, _ = self.run_steps(input_steps(self.model, x, seed))
        return pred
