"""Lava process graphs of snnsec models and a streaming runner for them.

Importing this package installs :mod:`snnsec._lava_compat` first, so lava-nc and lava-dl import
on Python 3.11 (see that module).
"""

from snnsec._lava_compat import install as _install_lava_compat

_install_lava_compat()
