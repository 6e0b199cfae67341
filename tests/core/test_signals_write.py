"""A stop signal that lands while a file is being written waits for the file (snnsec.utils.signals.deferred).

Found as a flaky `make test`: SIGTERM to `snnsec craft` exited 1 with "RuntimeError: [enforce fail
at inline_container.cc:672] . unexpected pos 960 vs 912" instead of 143, when the signal arrived
inside torch.save of a finished batch: the KeyboardInterrupt tore torch's zip writer, which then
failed with its own error. Each scenario runs in a child process (the signals are real, sent to
that process by itself at a chosen write), never in the pytest worker.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

# The child: SIGTERM (once, or twice) at the k-th write torch.save makes into an atomic write.
CHILD = textwrap.dedent("""
    import json, os, signal, sys
    from pathlib import Path
    import torch
    from snnsec.utils import signals
    from snnsec.utils.io import atomic_write, safe_torch_load

    class SignalAt:
        '''The file torch.save writes to; the stop signal arrives at its k-th write.'''
        def __init__(self, fh, at, times):
            self.fh, self.n, self.at, self.times = fh, 0, at, times
        def write(self, b):
            self.n += 1
            if self.n == self.at:
                for _ in range(self.times):
                    os.kill(os.getpid(), signal.SIGTERM)
            return self.fh.write(b)
        def flush(self):
            self.fh.flush()

    out, times, first, last = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    obj = {"format": "probe", "x": torch.arange(1000.0), "y": torch.zeros(3, 4), "meta": {"a": [1, 2]}}
    results = []
    for at in range(first, last + 1):
        target = out / f"f{at}.pt"
        signals.reset()
        with signals.stop_signals_raise():
            try:
                with atomic_write(target) as fh:
                    f = SignalAt(fh, at, times)
                    torch.save(obj, f)
                outcome = "finished"
            except KeyboardInterrupt:
                outcome = "KeyboardInterrupt"
            except Exception as exc:
                outcome = f"{type(exc).__name__}: {exc}"
        loaded = safe_torch_load(target, "probe", "probe") if target.exists() else None
        results.append({"at": at, "writes": f.n, "outcome": outcome, "exit": signals.exit_code(),
                        "complete": loaded is not None and torch.equal(loaded["x"], obj["x"]),
                        "left": sorted(p.name for p in out.iterdir() if p.name != target.name and p.name.startswith("."))})
    print(json.dumps(results))
""")


def _child(tmp_path: Path, times: int, first: int, last: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), str(times), str(first), str(last)],
                          capture_output=True, text=True, timeout=120)


def test_sigterm_inside_torch_save_lets_the_file_finish_then_stops(tmp_path: Path) -> None:
    # torch.save of this dict makes about 40 writes; without the deferral a signal at most of
    # them ended in torch's RuntimeError, at the others in KeyboardInterrupt with no file
    r = _child(tmp_path, times=1, first=1, last=40)
    assert r.returncode == 0, r.stderr[-2000:]
    results = json.loads(r.stdout)
    assert all(res["writes"] >= 40 for res in results), "the write never got as far as the signal"
    for res in results:
        assert res["outcome"] == "KeyboardInterrupt", res  # the stop, raised after the write
        assert res["exit"] == 143, res
        assert res["complete"], res  # the whole file is in place and loads
        assert res["left"] == [], res  # no temporary file left beside it


def test_a_second_signal_inside_a_write_still_forces_the_exit(tmp_path: Path) -> None:
    r = _child(tmp_path, times=2, first=5, last=5)
    assert r.returncode == 143, (r.returncode, r.stdout, r.stderr[-2000:])
    assert r.stdout == ""  # it left at once, in the middle of the write
    assert not (tmp_path / "f5.pt").exists()
