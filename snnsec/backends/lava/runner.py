"""Stream many samples through ONE Lava runtime, and always shut that runtime down.

Samples run back to back: sample ``j``'s step ``k`` leaves the input source at time step
``j*T + k + 1``; every population resets its state at the phase where a new sample reaches it
(see :mod:`snnsec.backends.lava.network`), so the stream equals one run per sample, without the
per-run compile and start-up cost and with the network's pipeline kept full. A ``Read`` process
samples the readout neurons' ``v`` once per sample, at the step the sample's last input step
reaches the readout (``latency`` steps after it left the source).

The runtime forks one worker per process (from a process whose free heap has just been returned
to the kernel: :func:`snnsec.utils.malloc.release_free_memory`). :func:`stream` stops it in a ``finally`` block; if
the orderly stop does not finish in time, or the runtime never started, the workers are
terminated, so none is left behind. Ctrl-C (SIGINT), SIGTERM and SIGHUP are caught in the parent
while Lava runs: the current chunk of samples finishes, the runtime stops, and
``KeyboardInterrupt`` is raised (the CLI exits 130, 143 or 129); a second signal kills the
workers and exits at once. Forked workers ignore these signals, so one sent to the whole process
group (a terminal, a service manager) cannot kill them half-way through a step.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from snnsec.backends.lava.network import LavaNetwork
from snnsec.errors import InputError
from snnsec.utils.malloc import release_free_memory

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 20.0
WHOLE_STREAM_BYTES = 256 * 2**20


@dataclass
class StreamResult:
    """What a stream returns.

    Attributes:
        readout: ``[N, classes]`` readout ``v`` at the end of each sample (fixed point:
            ``64 * scale * sum of logits``; float: the sum of logits over T).
        spikes: per population ``[N, T, *shape]`` spikes aligned to input time (None for the
            readout), if recorded.
        steps: time steps run; seconds: wall time of compile + run + stop.
    """

    readout: np.ndarray
    spikes: list[np.ndarray | None] | None
    steps: int
    seconds: float


class _SigintFlag:
    """SIGINT, SIGTERM and SIGHUP handler for the parent: set a flag (the runtime stops after the
    current chunk); a second signal forces the exit (:func:`snnsec.utils.signals.force_exit`:
    the workers are killed, then the process leaves at once).

    Forked Lava workers inherit this handler; in them (another pid) it does nothing.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.hit = False

    def __call__(self, signum: int, frame: Any) -> None:
        if os.getpid() != self.pid:
            return
        from snnsec.utils import signals

        signals.record(signum)
        if self.hit:  # an exception raised here could land anywhere (a __del__, an at-fork hook)
            signals.force_exit()
        self.hit = True
        log.warning("%s: stopping the Lava runtime after the current chunk (signal again to force)",
                    signal.Signals(signum).name)


@contextlib.contextmanager
def _sigint_flag() -> Iterator[_SigintFlag]:
    from snnsec.utils.signals import STOP_SIGNALS

    flag = _SigintFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {}
    for sig in STOP_SIGNALS:
        if sig == getattr(signal, "SIGHUP", None) and signal.getsignal(sig) is signal.SIG_IGN:  # nohup
            continue
        previous[sig] = signal.signal(sig, flag)
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def shutdown_runtime(process: Any, timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop the runtime of ``process`` (if any) and make sure none of its workers survive."""
    runtime = getattr(process, "_runtime", None)
    if runtime is None:
        return
    infra = getattr(runtime, "_messaging_infrastructure", None)
    actors = list(getattr(infra, "actors", []) or [])
    if getattr(runtime, "_is_started", False):
        errors: list[BaseException] = []

        def _stop() -> None:
            try:
                runtime.stop()
            except BaseException as exc:  # noqa: BLE001 - reported below, workers cleaned anyway
                errors.append(exc)

        stopper = threading.Thread(target=_stop, name="lava-stop", daemon=True)
        stopper.start()
        stopper.join(timeout)
        if stopper.is_alive() or errors:
            log.warning("Lava runtime did not stop cleanly (%s); terminating its workers",
                        errors[0] if errors else f"no answer in {timeout:.0f} s")
    _end_workers(actors)  # never started, or a stop that failed: end the workers ourselves
    smm = getattr(infra, "smm", None)
    with contextlib.suppress(Exception):
        if smm is not None and getattr(smm, "_process", None) is not None and smm._process.is_alive():
            smm.shutdown()
    watchdog = getattr(runtime, "_watchdog_manager", None)
    with contextlib.suppress(Exception):
        if watchdog is not None and getattr(runtime, "_is_started", False):
            watchdog.stop()
    runtime._is_started = False  # Runtime.__del__ must not try to stop it again


def _end_workers(actors: list[Any], grace: float = 1.0) -> None:
    """Terminate, then kill, Lava's worker processes and reap them.

    The workers ignore SIGINT, SIGTERM and SIGHUP (they inherit :class:`_SigintFlag`), so what
    ``terminate`` does not end within ``grace`` seconds is killed. Lava's ``SystemProcess.join``
    takes no timeout, so the plain ``multiprocessing`` join is used: a reaped worker is also
    one the interpreter will not wait for at exit.
    """
    import multiprocessing

    alive = []
    for actor in actors:
        with contextlib.suppress(Exception):
            if actor.is_alive():
                actor.terminate()
                alive.append(actor)
    deadline = time.monotonic() + grace
    for actor in alive:
        with contextlib.suppress(Exception):
            multiprocessing.Process.join(actor, max(0.0, deadline - time.monotonic()))
    for actor in alive:
        with contextlib.suppress(Exception):
            if actor.is_alive():
                actor.kill()
            multiprocessing.Process.join(actor, 5.0)


def stream(
    net: LavaNetwork,
    messages: np.ndarray,
    *,
    chunk: int | None = None,
    record_spikes: bool = False,
    on_progress: Callable[[int], None] | None = None,
    run_cfg: Any = None,
) -> StreamResult:
    """Run ``messages`` ``[N, T, *input_shape]`` (torch layout) through one runtime of ``net``.

    Args:
        chunk: samples per ``run`` call (progress and Ctrl-C are handled between chunks).
        record_spikes: also return every spiking population's spikes (memory: N*T*neurons).
        on_progress: called with the number of samples finished after each chunk.
        run_cfg: a Lava run configuration; default ``Loihi2SimCfg`` with the network's precision.
    """
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import Read
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    messages = np.asarray(messages)
    T, L = net.T, net.latency
    if messages.ndim < 3 or messages.shape[1] != T:
        raise InputError(f"expected input messages [N, T={T}, ...], got {list(messages.shape)}")
    N = messages.shape[0]
    if N == 0:
        raise InputError("nothing to run: 0 samples")
    chunk = max(1, chunk or max(1, math.ceil(64 / T)))
    dtype = np.int32 if net.precision == "fixed" else np.float64
    total = N * T + L  # the last sample's last step reaches the readout L steps after it left
    step_bytes = int(np.prod(net.input_shape)) * np.dtype(dtype).itemsize
    # Setting a Var of a running network is slow (~0.5 s per call here), so the whole stream
    # goes into the source at once unless it is large; then it is refilled chunk by chunk.
    whole = total * step_bytes <= WHOLE_STREAM_BYTES
    if not whole:
        chunk = max(1, min(chunk * 16, WHOLE_STREAM_BYTES // (4 * T * step_bytes)))
    buffer_steps = total if whole else chunk * T
    start = time.perf_counter()

    def fill(first: int, count: int) -> np.ndarray:
        data = np.zeros(net.input_shape + (buffer_steps,), dtype=dtype)
        block = _to_lava(messages[first:first + count], net.input_shape).astype(dtype)  # [n, T, *lava]
        steps = block.shape[0] * T
        data[..., :steps] = np.moveaxis(block.reshape((steps,) + net.input_shape), 0, -1)
        return data

    source = Source(data=fill(0, N if whole else chunk))
    for port in net.inputs:
        source.s_out.connect(port)
    skip = 1 + (L - 1) // T  # reads that happen before the first sample reaches the readout
    reader = Read(buffer=N + skip, interval=T, offset=(L - 1) % T)
    reader.connect_var(net.readout)
    sinks = []
    if record_spikes:
        for _, port, _ in net.spikes:
            sink = Sink(shape=tuple(port.shape), buffer=total)
            port.connect(sink.a_in)
            sinks.append(sink)
    cfg = run_cfg or Loihi2SimCfg(select_tag="fixed_pt" if net.precision == "fixed" else "floating_pt")
    done_steps = 0
    try:
        with _sigint_flag() as interrupted:
            release_free_memory()  # the runtime forks a worker per process: keep the free heap out of them
            source.create_runtime(run_cfg=cfg)
            log.info("lava-sim: streaming %d samples x %d steps through one runtime (%s, %s)",
                     N, T, net.builder, "fixed point" if net.precision == "fixed" else "floating point")
            for first in range(0, N, chunk):
                if interrupted.hit:
                    raise KeyboardInterrupt
                if first > 0 and not whole:
                    source.data.set(fill(first, chunk))
                steps = min(chunk, N - first) * T
                source.run(condition=RunSteps(num_steps=steps))
                done_steps += steps
                if on_progress is not None:
                    on_progress(min(N, first + chunk))
            if interrupted.hit:
                raise KeyboardInterrupt
            if not whole:
                source.data.set(np.zeros(net.input_shape + (buffer_steps,), dtype=dtype))
            source.run(condition=RunSteps(num_steps=L))  # drain: the pipeline still holds L steps
            done_steps += L
            values = np.asarray(reader.data.get())  # [classes, N + skip]
            spikes = [np.asarray(s.data.get()) for s in sinks] if record_spikes else None
            if interrupted.hit:  # a signal during the drain or the read: still a stop, not a result
                raise KeyboardInterrupt
    finally:
        shutdown_runtime(source)
    readout = values[..., skip:skip + N].T.copy()
    aligned = _align_spikes(net, spikes, N) if spikes is not None else None
    return StreamResult(readout, aligned, done_steps, time.perf_counter() - start)


def _to_lava(block: np.ndarray, lava_input_shape: tuple[int, ...]) -> np.ndarray:
    """[n, T, C, H, W] -> [n, T, W, H, C]; flat inputs are flattened in torch order."""
    if len(lava_input_shape) == 3:
        return np.ascontiguousarray(block.transpose(0, 1, 4, 3, 2))
    return block.reshape(block.shape[0], block.shape[1], -1)


def _align_spikes(net: LavaNetwork, raw: list[np.ndarray], N: int) -> list[np.ndarray | None]:
    """Sink buffers ``[*lava shape, steps]`` -> ``[N, T, *torch shape]``: a population at depth d
    emits the spikes of input step k of sample j at time step j*T + k + 1 + d (buffer index
    j*T + k + d)."""
    T = net.T
    out: list[np.ndarray | None] = [None] * len(net.depths)
    for (index, _, shape), data in zip(net.spikes, raw):
        depth = net.depths[index]
        seq = data[..., depth:depth + N * T]
        seq = np.moveaxis(seq, -1, 0).reshape((N, T) + data.shape[:-1])
        if len(shape) == 3:
            seq = seq.transpose(0, 1, 4, 3, 2)
        out[index] = seq.astype(np.int8)
    return out


