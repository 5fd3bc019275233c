"""security.accounts on Linux: the local administrators — members of the groups sudo gives full
rights to by default (``sudo`` on Debian/Ubuntu, ``wheel`` on Red Hat/ALT/Astra, ``admin`` on old
Ubuntu), accounts whose primary group is one of them, and every account with uid 0 — and whether
a ``guest`` account can log in (a login shell and a usable password in ``/etc/shadow``; None when
shadow is not readable, i.e. the agent is not root). Linux accounts have no SID, so each
administrator is a ``LocalAdmin`` of kind ``user`` named as in ``/etc/passwd``.
"""

from __future__ import annotations

from typing import Any

from agent.probes.base import ProbeFailure, Raw
from agent.probes.linux import read_files, under
from agent.schema.report import LocalAdmin

ADMIN_GROUPS = ("sudo", "wheel", "admin")
GUEST = "guest"
_NO_LOGIN_SHELLS = ("nologin", "false")


def collect(root: str = "/") -> dict[str, str | bytes]:
    return read_files({name: under(root, f"etc/{name}") for name in ("passwd", "group", "shadow")})


def _records(content: str, width: int) -> list[list[str]]:
    """Colon-separated records of at least ``width`` fields (comments and NIS ``+`` lines skipped)."""
    rows = [line.split(":") for line in content.splitlines() if line and line[0] not in "#+-"]
    return [row for row in rows if len(row) >= width]


def _guest_enabled(passwd: list[list[str]], shadow: str | None) -> bool | None:
    account = next((row for row in passwd if row[0] == GUEST), None)
    if account is None or account[6].rsplit("/", 1)[-1] in _NO_LOGIN_SHELLS:
        return False
    if shadow is None:
        return None
    entry = next((row for row in _records(shadow, 2) if row[0] == GUEST), None)
    # "!" / "*" lock the password; an empty one lets anybody in.
    return entry is not None and not entry[1].startswith(("!", "*"))


def parse(raw: Raw) -> dict[str, Any]:
    if "passwd" not in raw or "group" not in raw:
        raise ProbeFailure("failed", "/etc/passwd or /etc/group is not readable")
    passwd = _records(str(raw["passwd"]), 7)
    groups = {row[0]: row for row in _records(str(raw["group"]), 4)}
    admin_gids = {groups[name][2] for name in ADMIN_GROUPS if name in groups}
    admins = {member for name in ADMIN_GROUPS if name in groups for member in groups[name][3].split(",")}
    admins |= {row[0] for row in passwd if row[2] == "0" or row[3] in admin_gids}
    shadow = raw.get("shadow")
    names = sorted(admin for admin in admins if admin.strip())
    return {
        "local_admins": names,
        "local_admin_accounts": [LocalAdmin(name=name, kind="user") for name in names],
        "guest_enabled": _guest_enabled(passwd, str(shadow) if shadow is not None else None),
    }
