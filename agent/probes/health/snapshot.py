"""What the health probes share: psutil results turned into JSON text by ``collect()``, so that
``parse()`` stays pure and can be tested on recorded snapshots. psutil only: these probes are
portable, the same module runs on Windows."""

from __future__ import annotations

import json
from typing import Any

from agent.probes.base import ProbeFailure, Raw, load_json

PSUTIL = "psutil.json"


def plain(value: Any) -> Any:
    """psutil's named tuples (and dicts or lists of them) as plain dicts and lists."""
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def dump(snapshot: dict[str, Any]) -> dict[str, str | bytes]:
    """The raw material of a health probe: one ``psutil.json``."""
    return {PSUTIL: json.dumps(plain(snapshot), indent=1, sort_keys=True)}


def load(raw: Raw) -> dict[str, Any]:
    snapshot = load_json(raw, PSUTIL)
    if not isinstance(snapshot, dict):
        raise ProbeFailure("failed", f"{PSUTIL} was not collected")
    return snapshot
