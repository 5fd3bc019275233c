"""security.accounts on Windows: members of the local Administrators group and the state of the
built-in Guest account, both found by well-known SID (S-1-5-32-544, RID 501), never by name: the
group is "Administrateurs" or "Администраторы" on localised Windows."""

from __future__ import annotations

from typing import Any

from agent.probes.base import ProbeFailure, Raw, text
from agent.probes.windows import instances, powershell, to_bool
from agent.schema.report import MAX_ITEMS

ADMINISTRATORS = "Administrators.json"
GUEST = "Guest.json"

ADMINISTRATORS_SID = "S-1-5-32-544"
# Get-LocalGroupMember throws on groups holding an orphaned or Azure AD SID (error 1789); the
# catch lists the same group through ADSI, where such members appear as "S-1-5-21-…".
ADMINISTRATORS_PIPELINE = (
    f"try {{ Get-LocalGroupMember -SID {ADMINISTRATORS_SID} | Select-Object Name }} "
    f"catch {{ $group = (New-Object System.Security.Principal.SecurityIdentifier('{ADMINISTRATORS_SID}'))."
    r"Translate([System.Security.Principal.NTAccount]).Value.Split('\')[-1]; "
    "([ADSI]('WinNT://./' + $group + ',group')).Invoke('Members') | ForEach-Object { "
    "$path = $_.GetType().InvokeMember('ADsPath', 'GetProperty', $null, $_, $null); "
    r"[pscustomobject]@{ Name = $path.Substring(8).Replace('/', '\') } } }"
)
GUEST_PIPELINE = (
    "Get-LocalUser | Where-Object { $_.SID.Value -like 'S-1-5-21-*-501' } | Select-Object Name, Enabled"
)


def collect() -> dict[str, str | bytes]:
    return dict(powershell({ADMINISTRATORS: ADMINISTRATORS_PIPELINE, GUEST: GUEST_PIPELINE}))


def parse(raw: Raw) -> dict[str, Any]:
    members = instances(raw, ADMINISTRATORS)
    guests = instances(raw, GUEST)
    if members is None and guests is None:
        raise ProbeFailure("failed", "neither the Administrators group nor the Guest account could be read")
    admins = None
    if members is not None:
        admins = sorted({name for member in members if (name := text(member.get("Name")))})[:MAX_ITEMS]
    guest_enabled = None
    if guests is not None:  # no Guest account at all (removed by policy) is as good as disabled
        guest_enabled = any(to_bool(guest.get("Enabled")) for guest in guests)
    return {"local_admins": admins, "guest_enabled": guest_enabled}
