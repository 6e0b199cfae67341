"""``loihi2-emu``: Loihi 2's fixed-point arithmetic, batched in torch, bit-exact with lava-sim.

The model is folded and quantised exactly as for lava-sim (:func:`snnsec.export.quantize.quantize`),
then run by :mod:`snnsec.emulator`: every population's spikes and the readout's ``v`` equal
lava-sim's fixed-point run after latency alignment, at about the cost of the model's float
forward, so whole test sets and paper-size models (VGG-11, ResNet-17) are practical.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from snnsec.backends.base import Prediction, input_steps, prediction
from snnsec.errors import InputError
from snnsec.emulator import EmulatorResult, emulator_for
from snnsec.emulator.engine import DEFAULT_BATCH
from snnsec.export.graph import SpikingGraph, model_graph
from snnsec.export.quantize import DEFAULT_INPUT_SCALE, FixedGraph, quantize
from snnsec.models.base import SpikingModel
from snnsec.utils.progress import progress


class Loihi2EmuBackend:
    """Runs the quantised model on the batched emulator.

    Args:
        model: a trained model.
        input_scale: integer message per unit of direct input (as lava-sim).
        batch_size: samples per batch (memory is bounded by it and the time chunk).
        device: ``cpu``, ``cuda`` or ``None`` (cuda when available).
        time_chunk: steps per chunk (default: as many as fit the memory budget).
        show_progress: show a progress bar on stderr.
    """

    name = "loihi2-emu"

    def __init__(self, model: SpikingModel, input_scale: float = DEFAULT_INPUT_SCALE,
                 batch_size: int = DEFAULT_BATCH, device: str | None = None, time_chunk: int | None = None,
                 show_progress: bool = True) -> None:
        self.model = model.eval()
        self.graph: SpikingGraph = model_graph(self.model)
        self.fixed: FixedGraph = quantize(self.graph, input_scale)
        self.emulator = emulator_for(self.fixed, device=device, batch_size=batch_size, time_chunk=time_chunk)
        self.show_progress = show_progress

    def run_steps(self, steps: np.ndarray, record_spikes: bool = False) -> tuple[Prediction, EmulatorResult]:
        """Run input steps ``[N, T, ...]`` in [0, 1]; returns the prediction and the raw result
        (spikes ``[N, T, *shape]`` per population when ``record_spikes``, as lava-sim's stream)."""
        options = {} if self.show_progress else {"disable": True}
        bar = progress(total=len(steps), desc=self.name, unit="sample", **options)
        try:  # steps become integer messages batch by batch
            result = self.emulator.run(steps, record_spikes=record_spikes, transform=self.fixed.messages,
                                       on_progress=lambda done: bar.update(done - bar.n))
        finally:
            bar.close()
        scale = 64.0 * self.fixed.populations[-1].scale
        info: dict[str, Any] = {
            "backend": self.name, "precision": "fixed", "builder": "emulator",
            "device": str(self.emulator.device), "batch_size": self.emulator.batch_size,
            "latency_steps": self.graph.latency, "steps": int(steps.shape[0] * steps.shape[1]),
            "seconds": round(result.seconds, 3),
            "samples_per_s": round(len(steps) / result.seconds, 3) if result.seconds > 0 else None,
            "quantization": self.fixed.report_dicts(),
            "plan": self.emulator.describe(),
        }
        return prediction(result.readout / scale, **info), result

    def predict(self, x: torch.Tensor, seed: int = 0) -> Prediction:
        pred, _ = self.run_steps(input_steps(self.model, x, seed))
        return pred

    def check_lava(self, steps: np.ndarray, k: int) -> dict[str, Any]:
        """Run the first ``k`` of input steps ``[N, T, ...]`` through lava-sim fixed point (one
        runtime) and through the emulator, and compare every spike and readout.

        Returns ``{"samples": k, "identical": bool, "first_difference": None | {"sample",
        "layer", "step", "what"}, "lava_seconds"}``: the first difference is that of the lowest
        sample, then the earliest step (in input time, after latency alignment), then the
        earliest layer.
        """
        from snnsec.backends.lava_sim import LavaSimBackend

        if k < 1:
            raise InputError(f"--check-lava must be a positive number of samples, got {k}")
        part = steps[:k]
        lava = LavaSimBackend(self.model, precision="fixed", input_scale=self.fixed.input_scale,
                              show_progress=self.show_progress)
        _, lava_res = lava.run_steps(part, record_spikes=True)
        _, emu_res = self.run_steps(part, record_spikes=True)
        first = first_difference(emu_res, lava_res, [p.name for p in self.fixed.populations])
        return {"samples": int(len(part)), "identical": first is None, "first_difference": first,
                "lava_seconds": round(lava_res.seconds, 3)}


def first_difference(emu: EmulatorResult, lava: Any, names: list[str]) -> dict[str, Any] | None:
    """The first (sample, step, layer) where spikes differ, or the first sample whose readout
    differs; ``None`` when the runs are identical."""
    best: tuple[int, int, int] | None = None
    for i, (got, want) in enumerate(zip(emu.spikes or [], lava.spikes or [])):
        if got is None or want is None:
            continue
        diff = np.argwhere((got != want).reshape(got.shape[0], got.shape[1], -1).any(axis=2))
        if len(diff):
            n, t = (int(v) for v in diff[0])
            if best is None or (n, t, i) < best:
                best = (n, t, i)
    readout = np.flatnonzero((emu.readout != lava.readout).any(axis=1))
    if best is not None and (not len(readout) or best[0] <= readout[0]):
        return {"sample": best[0], "layer": names[best[2]], "step": best[1], "what": "spikes"}
    if len(readout):
        return {"sample": int(readout[0]), "layer": names[-1], "step": None, "what": "readout v"}
    return None


def check_lava_sets(model: SpikingModel, sets: dict[str, tuple[torch.Tensor, int]], k: int, seed: int = 0,
                    **options: Any) -> dict[str, Any]:
    """``--check-lava K``: the first ``k`` samples of every set through lava-sim (one runtime) and
    the emulator, compared spike for spike.

    ``sets`` maps a name (``clean``, an attack) to ``(x, offset)``: ``x`` is the batch exactly as
    it was predicted (Poisson spikes are drawn from ``seed`` over that whole batch) and the set
    starts at row ``offset`` of it. The first difference names its set and the sample's index
    within it.
    """
    emu = Loihi2EmuBackend(model, **options)
    steps_of: dict[int, np.ndarray] = {}
    parts, rows = [], []
    for name, (x, offset) in sets.items():
        if id(x) not in steps_of:
            steps_of[id(x)] = input_steps(model, x, seed)
        part = steps_of[id(x)][offset:offset + k]
        parts.append(part)
        rows += [(name, i) for i in range(len(part))]
    report = emu.check_lava(np.concatenate(parts), len(rows))
    report["first_difference"] = locate(report["first_difference"], rows)
    report["sets"] = list(sets)
    return report


def locate(first: dict[str, Any] | None, rows: list[tuple[str, int]]) -> dict[str, Any] | None:
    """A difference at row ``first["sample"]`` of the checked stream, named by its set and the
    sample's index within that set (``rows[i] = (set, index)``)."""
    if first is None:
        return None
    name, index = rows[first["sample"]]
    return {**first, "set": name, "sample": index}


def difference_line(report: dict[str, Any]) -> str:
    """One line naming the first difference of a :func:`check_lava_sets` report."""
    d = report["first_difference"]
    where = f"step {d['step']}" if d["step"] is not None else "the readout v at the last step"
    return (f"loihi2-emu differs from lava-sim: {d['set']} sample {d['sample']}, layer {d['layer']}, {where} "
            f"({d['what']}); please report this with the model file")
