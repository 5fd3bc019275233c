"""security.antivirus on Linux: ClamAV, the antivirus the distributions ship. Installed means a
ClamAV program is present; enabled means something scans on its own (the ``clamd`` daemon or the
``clamonacc`` on-access scanner runs) rather than only on demand; the signature version and age
come from the header of the daily database that freshclam keeps current. The age is counted in
whole days so that the inventory does not change with every run.

No ClamAV gives an empty list: this PC has no antivirus the agent knows.
"""

from __future__ import annotations

import time
from typing import Any

import psutil

from agent.probes.base import Raw, load_json, text
from agent.probes.linux import installed, to_json, under
from agent.schema.report import Antivirus

STATE = "clamav.json"
DAILY_HEADER = "daily-header"
PROGRAMS = ("clamscan", "clamd", "clamdscan", "clamonacc", "freshclam")
SCANNERS = ("clamd", "clamonacc")
MAX_SIGNATURE_AGE_DAYS = 7
"""freshclam checks several times a day; a week without an update means updating is broken."""


def collect(root: str = "/") -> dict[str, str | bytes]:
    running = {process.info["name"] for process in psutil.process_iter(["name"])} & set(PROGRAMS)
    state = {
        "installed": [name for name in PROGRAMS if installed(name, root)],
        "running": sorted(running),
        "now": time.time(),
    }
    raw: dict[str, str | bytes] = {STATE: to_json(state)}
    for name in ("daily.cld", "daily.cvd"):  # .cld is the incrementally updated copy, newer if present
        try:
            with under(root, f"var/lib/clamav/{name}").open("rb") as database:
                raw[DAILY_HEADER] = database.read(512).decode("latin-1").strip()
            break
        except OSError:
            continue
    return raw


def _signature(header: str) -> tuple[str | None, float | None]:
    """(version, build time) from ``ClamAV-VDB:<build date with colons>:<version>:<sigs>:<level>:
    <md5>:<dsig>:<builder>:<build time_t>``."""
    parts = header.split(":")
    if len(parts) < 9 or parts[0] != "ClamAV-VDB" or not parts[-1].strip().isdigit():
        return None, None
    return text(parts[-7]), float(parts[-1].strip())


def parse(raw: Raw) -> dict[str, Any]:
    state = load_json(raw, STATE) or {}
    if not state.get("installed"):
        return {"antivirus": []}
    version, built = _signature(str(raw.get(DAILY_HEADER, "")))
    age = max(0, int((state["now"] - built) // 86400)) if built is not None and "now" in state else None
    return {
        "antivirus": [
            Antivirus(
                name="ClamAV",
                source="clamav",
                enabled=any(name in state.get("running", []) for name in SCANNERS),
                up_to_date=age <= MAX_SIGNATURE_AGE_DAYS if age is not None else None,
                signature_version=version,
                signature_age_days=float(age) if age is not None else None,
            )
        ]
    }
