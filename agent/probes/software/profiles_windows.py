"""The thin Windows boundary to every user profile's registry hive, for per-user software.

Only logged-on users' hives are loaded under HKEY_USERS; the others sit in each profile's
``NTUSER.DAT``. The agent (SYSTEM) mounts such a hive for the read with ``reg load`` under a name
of its own and unmounts it right after. A hive that cannot be mounted (the file is in use by a
process that holds it, missing, or damaged) is reported as not read, never silently dropped.

Everything here touches the OS and is only called by ``software.packages``' collect().
"""

from __future__ import annotations

import contextlib
import ntpath
import os
import re
from collections.abc import Callable
from typing import Any

from agent.probes.base import ProbeFailure, run_command
from agent.probes.windows import HKLM, HKU, registry_subkeys, user_hives

PROFILE_LIST_KEY = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList"
MOUNT_PREFIX = "Dozor_"
_USER_SID = re.compile(r"S-1-5-21-[\d-]+|S-1-12-1-[\d-]+")  # local/domain and Azure AD accounts


def account_name(sid: str) -> str:
    """DOMAIN\\user of a SID (pywin32), else the SID itself (a deleted or unreachable account)."""
    try:
        import win32security

        name, domain, _kind = win32security.LookupAccountSid(None, win32security.ConvertStringSidToSid(sid))
    except Exception:  # pywin32 raises pywintypes.error for unknown SIDs; no domain controller
        return sid
    return f"{domain}\\{name}" if domain else name


def _reg(*args: str) -> None:
    reg = ntpath.join(os.environ.get("SYSTEMROOT", r"C:\Windows"), "System32", "reg.exe")
    run_command([reg, *args], timeout=30.0)


def user_profiles() -> list[tuple[str, str]]:
    """(SID, profile folder) of every user profile on the PC, from the ProfileList."""
    return [
        (entry["PSChildName"], str(entry.get("ProfileImagePath") or ""))
        for entry in registry_subkeys(PROFILE_LIST_KEY, HKLM)
        if _USER_SID.fullmatch(entry["PSChildName"])
    ]


def read_every_profile(
    key: str, name_of: Callable[[str], str] = account_name
) -> tuple[list[dict[str, Any]], list[str]]:
    """The subkeys of ``key`` (relative to a user hive) in every profile, each entry tagged with
    ``DozorProfile`` (the account name), and the names of the profiles that could not be read."""
    entries: list[dict[str, Any]] = []
    unread: list[str] = []
    loaded = set(user_hives())
    for sid, folder in user_profiles():
        profile = name_of(sid)
        if sid in loaded:
            found = registry_subkeys(rf"{sid}\{key}", HKU)
        else:
            mount = f"{MOUNT_PREFIX}{sid}"
            try:
                _reg("load", rf"HKU\{mount}", ntpath.join(os.path.expandvars(folder), "NTUSER.DAT"))
            except ProbeFailure:
                unread.append(profile)
                continue
            try:
                found = registry_subkeys(rf"{mount}\{key}", HKU)
            finally:  # if unloading fails it stays mounted until the next boot: harmless
                with contextlib.suppress(ProbeFailure):
                    _reg("unload", rf"HKU\{mount}")
        entries.extend({**entry, "DozorProfile": profile} for entry in found)
    return entries, unread
