"""health.users (every platform, psutil): who is logged in now — at the console, over SSH or RDP
(utmp on Linux, WTS sessions on Windows)."""

from __future__ import annotations

from typing import Any

import psutil

from agent.probes.base import Raw, epoch_utc, text
from agent.probes.health import snapshot
from agent.schema.report import LoggedInUser


def collect() -> dict[str, str | bytes]:
    return snapshot.dump({"users": psutil.users()})


def parse(raw: Raw) -> dict[str, Any]:
    users = [
        LoggedInUser(
            name=name,
            terminal=text(entry.get("terminal")),
            host=text(entry.get("host")),
            started_at=epoch_utc(entry.get("started")),
        )
        for entry in snapshot.load(raw).get("users", [])
        if (name := text(entry.get("name")))
    ]
    return {"users": sorted(users, key=lambda user: (user.name, user.terminal or ""))}
