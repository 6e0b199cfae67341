"""Lava imports in a user's own script: the .pth hook that `make setup` installs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from snnsec._lava_pth import PTH_NAME, remove_pth, site_packages, write_pth

pytestmark = pytest.mark.cost(8)  # rough CPU seconds under the suite: orders the xdist schedule

USER_SCRIPT = "from lava.lib.dl import netx; from lava.proc.lif.process import LIF; print('lava ok')"


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.mark.lava
def test_a_plain_script_imports_lava_through_the_hook(tmp_path) -> None:
    # Without the hook's site dir the user's import fails (on Python 3.11); with it, it works.
    bare = run("-S", "-c", f"import sys; sys.path[:0] = {sys.path[1:]!r}; {USER_SCRIPT}")
    if sys.version_info >= (3, 11):
        assert bare.returncode != 0, "lava imported without any hook; this test could not fail"
    path = write_pth(tmp_path)
    assert path.name == PTH_NAME and path.read_text().startswith("import ")
    hooked = run("-S", "-c", f"import sys, site; sys.path[:0] = {sys.path[1:]!r}; site.addsitedir({str(tmp_path)!r}); {USER_SCRIPT}")
    assert hooked.returncode == 0, hooked.stderr[-2000:]
    assert hooked.stdout.strip() == "lava ok"
    assert remove_pth(tmp_path) and not path.exists()


def test_the_hook_is_silent_when_snnsec_is_gone(tmp_path) -> None:
    write_pth(tmp_path)
    # -S and an empty cwd: neither site-packages nor the source tree is importable
    result = run("-S", "-c", f"import site; site.addsitedir({str(tmp_path)!r}); print('started')", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "started" and result.stderr == ""


@pytest.mark.lava
def test_make_setup_installed_the_hook_in_this_venv() -> None:
    if not (site_packages() / PTH_NAME).is_file():
        pytest.skip(f"{PTH_NAME} not in {site_packages()}: run `make setup`")
    result = run("-c", USER_SCRIPT)
    assert result.returncode == 0, result.stderr[-2000:]
