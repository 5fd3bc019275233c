"""security.accounts on Windows: members of the local Administrators group and the state of the
built-in Guest account, both found by well-known SID (S-1-5-32-544, RID 501), never by name: the
group is "Administrateurs" or "Администраторы" on localised Windows.

Each member is named by translating its SID, in both ways of listing the group, and written
``DOMAIN\\user`` with the domain upper case (``RC-BUH-014\\Administrator`` for the PC's own
accounts), so the set does not flap between Get-LocalGroupMember and the ADSI fallback (which
spells a local account ``WORKGROUP/PC/user``) or with the case a domain controller returned."""

from __future__ import annotations

import re
from typing import Any

from agent.probes.base import ProbeFailure, Raw, text
from agent.probes.windows import instances, powershell, to_bool
from agent.schema.report import MAX_ITEMS, LocalAdmin

ADMINISTRATORS = "Administrators.json"
GUEST = "Guest.json"

ADMINISTRATORS_SID = "S-1-5-32-544"
# Get-LocalGroupMember throws on groups holding an orphaned or Azure AD SID (error 1789); the
# catch lists the same group through ADSI, where such members appear as "S-1-5-21-…". Both
# branches name a member by its SID's translation (the SID itself when it no longer resolves).
_SECURITY = "System.Security.Principal"
_TRANSLATED = f"$(try {{{{ $sid.Translate([{_SECURITY}.NTAccount]).Value }}}} catch {{{{ {{fallback}} }}}})"
ADMINISTRATORS_PIPELINE = (
    f"try {{ Get-LocalGroupMember -SID {ADMINISTRATORS_SID} | ForEach-Object {{ $m = $_; $sid = $m.SID; "
    # Azure AD members do not translate: keep the cmdlet's own name ("AzureAD\user") for them.
    f"[pscustomobject]@{{ Name = {_TRANSLATED.format(fallback='$m.Name')}; SID = $sid.Value; "
    "ObjectClass = $m.ObjectClass } } } "
    f"catch {{ $group = (New-Object {_SECURITY}.SecurityIdentifier('{ADMINISTRATORS_SID}'))."
    rf"Translate([{_SECURITY}.NTAccount]).Value.Split('\')[-1]; "
    "([ADSI]('WinNT://./' + $group + ',group')).Invoke('Members') | ForEach-Object { "
    "$member = $_.GetType(); "
    f"$sid = New-Object {_SECURITY}.SecurityIdentifier("
    "[byte[]]$member.InvokeMember('objectSid', 'GetProperty', $null, $_, $null), 0); "
    f"[pscustomobject]@{{ Name = {_TRANSLATED.format(fallback='$sid.Value')}; SID = $sid.Value; "
    "ObjectClass = $member.InvokeMember('Class', 'GetProperty', $null, $_, $null) } } }"
)
# Get-LocalGroupMember's ObjectClass is localised; ADSI's Class is not.
KINDS = {
    "user": "user",
    "group": "group",
    "пользователь": "user",
    "группа": "group",
    "користувач": "user",
    "група": "group",
    "benutzer": "user",
    "gruppe": "group",
    "utilisateur": "user",
    "groupe": "group",
}
_SID = re.compile(r"S-1-[0-9-]+", re.IGNORECASE)
GUEST_PIPELINE = (
    "Get-LocalUser | Where-Object { $_.SID.Value -like 'S-1-5-21-*-501' } | Select-Object Name, Enabled"
)


PIPELINES: dict[str, str] = {ADMINISTRATORS: ADMINISTRATORS_PIPELINE, GUEST: GUEST_PIPELINE}
"""What collect() asks PowerShell; declared as data so one run serves every probe."""


def collect() -> dict[str, str | bytes]:
    return dict(powershell(PIPELINES))


def account_name(name: str) -> str:
    """``DOMAIN\\user`` with the domain upper case; ADSI's ``WORKGROUP\\PC\\user`` loses its workgroup."""
    parts = [part for part in re.split(r"[\\/]", name) if part]
    if len(parts) < 2:
        return name
    return f"{parts[-2].upper()}\\{parts[-1]}"


def _admin(member: dict[str, Any]) -> LocalAdmin | None:
    name = text(member.get("Name"))
    sid = member.get("SID")
    # A SecurityIdentifier as plain ConvertTo-Json writes it: {"BinaryLength", "AccountDomainSid", "Value"}
    sid = text(sid.get("Value") if isinstance(sid, dict) else sid)
    sid = sid.upper() if sid and _SID.fullmatch(sid) else None
    if name is None and sid is None:
        return None
    if name is None or _SID.fullmatch(name):  # a member whose SID no longer resolves
        name = sid or (name or "").upper()
    kind = KINDS.get((text(member.get("ObjectClass")) or "").casefold(), "unknown")
    return LocalAdmin(name=account_name(name), kind=kind, sid=sid)  # type: ignore[arg-type]


def local_admins(members: list[Any]) -> list[LocalAdmin]:
    """Each member once (by SID, else by name), sorted by name: the order never flaps."""
    found: dict[str, LocalAdmin] = {}
    for member in members:
        if (admin := _admin(member)) is not None:
            found.setdefault(admin.sid or admin.name.casefold(), admin)
    return sorted(found.values(), key=lambda admin: (admin.name.casefold(), admin.sid or ""))[:MAX_ITEMS]


def parse(raw: Raw) -> dict[str, Any]:
    members = instances(raw, ADMINISTRATORS)
    guests = instances(raw, GUEST)
    if members is None and guests is None:
        raise ProbeFailure("failed", "neither the Administrators group nor the Guest account could be read")
    admins = None if members is None else local_admins(members)
    guest_enabled = None
    if guests is not None:  # no Guest account at all (removed by policy) is as good as disabled
        guest_enabled = any(to_bool(guest.get("Enabled")) for guest in guests)
    return {
        "local_admins": None if admins is None else [admin.name for admin in admins],
        "local_admin_accounts": admins,
        "guest_enabled": guest_enabled,
    }
