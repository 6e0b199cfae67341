"""The demo's lava-sim cross-check, in a child process of its own (step 3 of :mod:`snnsec.demo`).

Lava is the slow part of the demo (about 3 samples/s here against about 100 on the emulator), so
:class:`LavaCheck` starts :func:`lava_check_main` in a child as soon as the first digits of every
set exist, while the demo crafts the rest, predicts in torch and runs the emulator. The child runs
the same input steps through lava-sim (one runtime) and ``loihi2-emu`` and writes what it found to
``lava-check.json`` atomically; a result whose key (model file, input steps, precision, spikes,
versions) matches is reused without starting Lava.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LAVA_CHECK_FILE = "lava-check.json"


class LavaCheck:
    """The lava-sim cross-check, running in a child process while the parent works.

    The child (:func:`lava_check_main`) runs the input steps through lava-sim in one runtime
    and through ``loihi2-emu``, compares them and writes ``lava-check.json`` atomically. A result
    whose key (model file, input steps, precision, spikes, versions) matches is reused without
    starting Lava. The child stops (its Lava runtime and workers included) when
    the parent closes its stdin, which also happens when the parent dies.
    """

    def __init__(self, model_path: Path, steps: Any, out_dir: Path, precision: str, spikes: bool = False) -> None:
        from snnsec.utils.io import sha256_file

        self.out_dir = out_dir
        self.result_path = out_dir / LAVA_CHECK_FILE
        self.steps_path = out_dir / "lava-check-input.npy"
        self.log_path = out_dir / "lava-check.log"
        self.samples = int(len(steps))
        self.key = _check_key(sha256_file(model_path), steps, f"{precision}|spikes={int(spikes)}")
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = time.perf_counter()
        self.reused = self._load() is not None
        if self.reused:
            log.info("reusing the lava-sim cross-check in %s", self.result_path)
            return
        import numpy as np

        from snnsec.utils.io import atomic_write

        with atomic_write(self.steps_path, "wb") as fh:
            np.save(fh, steps, allow_pickle=False)
        env = dict(os.environ, OMP_NUM_THREADS="1", SNNSEC_PROGRESS="0")  # Lava's workers are single threaded
        code = ("import sys; from snnsec.demo.lava_check import lava_check_main; from snnsec.utils.process import run_process; "
                "sys.exit(run_process(lava_check_main, sys.argv[1:]))")
        with open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code, str(model_path), str(self.steps_path), str(self.result_path),
                 precision, str(int(spikes)), self.key],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err, env=env)
        log.info("lava-sim cross-check of %d samples started (pid %d; log %s)", self.samples, self.proc.pid,
                 self.log_path)

    def _load(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.result_path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("key") != self.key or len(data.get("lava_labels", ())) != self.samples:
            return None
        return data

    def result(self) -> dict[str, Any]:
        """Wait for the child; its result, or a one-line :class:`SnnsecError` naming its log."""
        from snnsec.errors import SnnsecError

        if self.proc is not None:
            code = self.proc.wait()
            self.proc = None
            self.steps_path.unlink(missing_ok=True)
            if code != 0:
                tail = [line for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()][-1:]
                raise SnnsecError(f"the lava-sim cross-check failed (exit {code}): "
                                  f"{tail[0] if tail else 'no message'}; full log: {self.log_path}")
        data = self._load()
        if data is None:
            raise SnnsecError(f"the lava-sim cross-check left no usable result in {self.result_path}")
        data["reused"] = self.reused
        data["waited_s"] = round(time.perf_counter() - self.started, 2)
        return data

    def close(self, timeout: float = 30.0) -> None:
        """Stop a child that is still running (after an error or a stop signal in the parent)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.stdin.close()  # type: ignore[union-attr]  # the child stops its Lava runtime
                proc.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        self.steps_path.unlink(missing_ok=True)


def _check_key(model_sha: str, steps: Any, options: str) -> str:
    import numpy as np

    from snnsec import __version__

    h = hashlib.sha256(f"{model_sha}|{options}|{__version__}|{steps.dtype}|{steps.shape}|".encode())
    h.update(np.ascontiguousarray(steps).tobytes())
    return h.hexdigest()


def lava_check_main(argv: list[str]) -> int:
    """Child of :class:`LavaCheck`: ``MODEL STEPS RESULT PRECISION SPIKES KEY``.

    Runs the input steps ``[N, T, ...]`` through lava-sim (one runtime) and loihi2-emu, and writes
    both backends' labels, lava-sim's info and, in fixed point, the first difference
    (:func:`snnsec.backends.loihi2_emu.first_difference`) to RESULT (JSON, atomically).

    Fixed point compares every sample's readout ``v`` (integers) and, with SPIKES = 1, every
    layer's spikes at every step. Recording spikes costs Lava one sink process per layer, which
    made it 4-9x slower here, so by default spikes are recorded only to locate a difference: the
    first sample whose readout differs runs again, alone, with spikes, and the first differing
    layer and step are named. Closing its stdin stops it as SIGINT does: the Lava runtime stops
    and its workers end.
    """
    import threading

    import numpy as np
    import torch

    from snnsec.backends.lava_sim import LavaSimBackend
    from snnsec.backends.loihi2_emu import Loihi2EmuBackend, first_difference
    from snnsec.demo import EMU_BATCH
    from snnsec.models import load_model
    from snnsec.utils.io import atomic_write_json

    model_path, steps_path, result_path, precision, spikes, key = argv
    signal.signal(signal.SIGINT, signal.default_int_handler)

    # Lava forks its workers, and a forked child's multiprocessing bootstrap closes sys.stdin: a
    # thread blocked in sys.stdin.read() would hold its lock across the fork and hang the worker.
    # So the pipe is watched through a raw descriptor (os.read takes no Python lock) and
    # sys.stdin becomes /dev/null.
    pipe = os.dup(0)
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process

    def stop_when_parent_leaves() -> None:
        while os.read(pipe, 4096):  # EOF: the parent closed the pipe or died
            pass
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=stop_when_parent_leaves, name="parent-watch", daemon=True).start()
    torch.set_num_threads(1)
    model = load_model(model_path)
    steps = np.load(steps_path, allow_pickle=False)
    fixed = precision == "fixed"
    spikes = fixed and spikes == "1"
    lava = LavaSimBackend(model, precision=precision, show_progress=False)
    lava_pred, lava_res = lava.run_steps(steps, record_spikes=spikes)
    emu = Loihi2EmuBackend(model, input_scale=lava.fixed.input_scale if lava.fixed is not None else 255.0,
                           device="cpu", batch_size=EMU_BATCH, show_progress=False)
    emu_pred, emu_res = emu.run_steps(steps, record_spikes=spikes)
    names = [p.name for p in emu.fixed.populations]
    first = first_difference(emu_res, lava_res, names) if fixed else None
    if first is not None and not spikes:  # locate it: that sample again, alone, with every spike
        i = first["sample"]
        _, lava_one = lava.run_steps(steps[i:i + 1], record_spikes=True)
        _, emu_one = emu.run_steps(steps[i:i + 1], record_spikes=True)
        first = {**(first_difference(emu_one, lava_one, names) or first), "sample": i}
    compared = ("every layer's spikes at every step, and the readout v" if spikes else
                "the readout v (integers) of every sample") if fixed else "predictions only (float Lava)"
    atomic_write_json(result_path, {
        "key": key,
        "precision": precision,
        "compared": compared,
        "spikes_compared": spikes,
        "lava_labels": lava_pred.labels.tolist(),
        "emulator_labels": emu_pred.labels.tolist(),
        "identical": (first is None) if fixed else None,
        "first_difference": first,
        "lava_info": {k: v for k, v in lava_pred.info.items() if k != "quantization"},
    })
    return 0
