"""A process that snnsec's entry points start freezes its objects before the exit
(:mod:`snnsec.utils.process`); a library call to ``main`` leaves the caller's collector alone."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from snnsec.cli.main import main

ROOT = Path(__file__).resolve().parents[2]

# Runs ``python -m snnsec ARGS`` as the interpreter would (runpy, __main__), with an atexit hook,
# registered first so it runs last, that reports how many objects were frozen at the exit.
PROBE = ("import atexit, gc, runpy, sys; "
         "atexit.register(lambda: sys.stderr.write(f'frozen={gc.get_freeze_count()}\\n')); "
         "sys.argv = ['snnsec', *sys.argv[1:]]; runpy.run_module('snnsec', run_name='__main__', alter_sys=True)")


def _frozen_at_exit(*args: str) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SNNSEC_PROGRESS": "0"}
    r = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    return r.returncode, r.stdout, r.stderr


def test_python_m_snnsec_freezes_before_exit_and_keeps_its_exit_code_and_output() -> None:
    code, out, err = _frozen_at_exit("--version")
    assert code == 0 and out.startswith("snnsec "), err
    frozen = int(err.rsplit("frozen=", 1)[1].split()[0])
    assert frozen > 10_000, f"only {frozen} objects frozen: torch's import-time objects are still collected at exit"
    # an error keeps its exit status and its one line
    code, _, err = _frozen_at_exit("craft", "--model", "no-such-file.pt", "--attack", "rga-fgsm")
    assert code == 2 and err.count("error:") == 1 and "no-such-file.pt" in err and "Traceback" not in err, err
    assert int(err.rsplit("frozen=", 1)[1].split()[0]) > 10_000


def test_a_library_call_to_main_freezes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    before = gc.get_freeze_count()
    with pytest.raises(SystemExit):
        main(["--version"])
    assert main(["env", "--json"]) == 0
    capsys.readouterr()
    assert gc.get_freeze_count() == before


def test_the_snnsec_script_runs_the_entry_point() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["snnsec"] == "snnsec.cli.main:entry"


@pytest.mark.parametrize("under_torchrun", [True, False])
def test_only_a_torchrun_worker_asks_for_a_signal_when_its_launcher_dies(under_torchrun: bool) -> None:
    """PR_SET_PDEATHSIG under torchrun (the killed-launcher run itself is in
    tests/scale/test_shard_evaluate.py); a plain command keeps running when its shell goes."""
    if not sys.platform.startswith("linux"):
        pytest.skip("prctl is Linux's")
    probe = ("import ctypes, sys; from snnsec.utils.process import stop_with_launcher; asked = stop_with_launcher(); "
             "v = ctypes.c_int(-1); ctypes.CDLL(None).prctl(2, ctypes.byref(v), 0, 0, 0); print(asked, v.value)")
    env = {k: v for k, v in os.environ.items() if k != "TORCHELASTIC_RUN_ID"}
    if under_torchrun:
        env["TORCHELASTIC_RUN_ID"] = "test"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == (["True", str(int(signal.SIGTERM))] if under_torchrun else ["False", "0"])
