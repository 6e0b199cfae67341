"""Layout versions of the architectures, so model files written by older snnsec still load.

``ModelMeta.layout`` records which layer lists a file's weights were trained with:

- **1** (no ``layout`` field; snnsec before the reference layouts): ``vgg11`` without conv bias,
  ``vggdvs`` with six convolutions, ``resnet17`` with a pool after the stem and a LIF before the
  last linear layer.
- **2** (current): the reference code's exact layer lists (see :mod:`snnsec.models.vgg` and
  :mod:`snnsec.models.resnet`).

A layout-1 file of a changed architecture is read as the legacy builder that still exists under
``<arch>-v1``; every other architecture is unchanged between the layouts.
"""

from __future__ import annotations

from typing import Any

from snnsec.errors import InputError

LAYOUT_VERSION = 2
"""Layout of every model built by this snnsec."""

LEGACY_ARCHS: dict[int, dict[str, str]] = {
    1: {"vgg11": "vgg11-v1", "vggdvs": "vggdvs-v1", "resnet17": "resnet17-v1"},
}
"""layout -> {architecture name in the file: builder that reproduces that layout}."""


def upgrade_layout(data: dict[str, Any]) -> dict[str, Any]:
    """Metadata as read from a file -> metadata whose ``arch`` builds the file's layer lists."""
    data = dict(data)
    layout = data.setdefault("layout", 1)  # files without the field predate layout versions
    if not isinstance(layout, int) or isinstance(layout, bool) or not 1 <= layout <= LAYOUT_VERSION:
        raise InputError(
            f"model layout {layout!r} is not known to this snnsec (it reads layouts 1..{LAYOUT_VERSION}); "
            "the file was written by a newer snnsec"
        )
    legacy = LEGACY_ARCHS.get(layout, {})
    if data.get("arch") in legacy:
        data["arch"] = legacy[data["arch"]]
    return data
