"""hardware.monitors on Linux: the EDID the kernel read from each connected display
(``/sys/class/drm/card*-*/edid``; empty for an unused connector), decoded by :mod:`edid`.

Works without X or Wayland and for any user; a machine without a GPU driver (a VM on a serial
console, a server) simply has no monitors.
"""

from __future__ import annotations

from typing import Any

from agent.probes.base import Raw
from agent.probes.hardware import edid
from agent.probes.linux import under

SUFFIX = ".bin"


def collect(sys: str = "/sys") -> dict[str, str | bytes]:
    raw: dict[str, str | bytes] = {}
    for path in sorted(under(sys, "class/drm").glob("card*-*/edid")):
        try:
            blob = path.read_bytes()
        except OSError:
            continue
        if blob:
            raw[path.parent.name + SUFFIX] = blob
    return raw


def parse(raw: Raw) -> dict[str, Any]:
    monitors = [
        monitor
        for key, blob in sorted(raw.items())
        if key.endswith(SUFFIX) and isinstance(blob, bytes) and (monitor := edid.decode(blob)) is not None
    ]
    return {"monitors": monitors}
