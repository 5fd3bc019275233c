"""software.packages on Windows: the Uninstall keys Programs and Features reads — HKLM (64-bit
view), HKLM\\SOFTWARE\\WOW6432Node (32-bit programs on 64-bit Windows) and every user profile's
hive, loaded or not (per-user installs, each with the profile it belongs to; profiles whose hive
could not be read are listed in ``software_unread_profiles``, so the list does not change with who
is logged on). What Programs and Features hides — entries without a name or an uninstall
command, system components, updates filed under their parent product — is left out here too."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from agent.probes.base import ProbeFailure, Raw, text
from agent.probes.security.accounts_windows import account_name
from agent.probes.software.profiles_windows import read_every_profile
from agent.probes.windows import instances, load_json, registry_subkeys, to_int, to_json
from agent.schema.report import MAX_ITEMS, MAX_PACKAGES, SoftwarePackage

UNINSTALL_KEY = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
WOW64_UNINSTALL_KEY = r"SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall"

MACHINE = "Uninstall-HKLM.json"
MACHINE_32BIT = "Uninstall-HKLM-WOW6432Node.json"
USERS = "Uninstall-HKU.json"
UNREAD = "unread-profiles.json"

Source = Literal["registry", "registry_wow64", "registry_user"]
SOURCES: dict[str, Source] = {MACHINE: "registry", MACHINE_32BIT: "registry_wow64", USERS: "registry_user"}


def collect() -> dict[str, str | bytes]:
    per_user, unread = read_every_profile(UNINSTALL_KEY)
    return {
        UNREAD: to_json(unread),
        MACHINE: to_json(registry_subkeys(UNINSTALL_KEY)),
        # Read by its literal path in the 64-bit view: absent on 32-bit Windows, so nothing is counted twice.
        MACHINE_32BIT: to_json(registry_subkeys(WOW64_UNINSTALL_KEY)),
        USERS: to_json(per_user),
    }


def install_date(value: Any) -> str | None:
    """``yyyymmdd`` (or ``yyyymdd``, seen in the wild) → ISO date; anything else as written."""
    raw = text(value, max_length=64)
    if raw and re.fullmatch(r"\d{7,8}", raw):
        try:
            return datetime.strptime(raw, "%Y%m%d").date().isoformat()
        except ValueError:
            pass
    return raw


def _version(value: Any) -> str | None:
    """Some installers append control characters and garbage to the version (GLPI agent #415)."""
    version = text(value)
    return text(re.split(r"[\x00-\x1f]", version, maxsplit=1)[0]) if version else None


def listed(entry: Mapping[str, Any]) -> bool:
    """Whether Programs and Features shows the entry: a name, a way to uninstall it (or an MSI
    product), not a system component, not an update filed under its parent product."""
    return (
        text(entry.get("DisplayName")) is not None
        and (text(entry.get("UninstallString")) is not None or to_int(entry.get("WindowsInstaller")) == 1)
        and to_int(entry.get("SystemComponent")) != 1
        and text(entry.get("ParentKeyName")) is None
    )


def _profile(entry: Mapping[str, Any]) -> str | None:
    """The profile's account as DOMAIN\\user (domain upper case), or its SID when it no longer resolves."""
    name = text(entry.get("DozorProfile"))
    return account_name(name) if name else None


def _package(entry: Mapping[str, Any], source: Source) -> SoftwarePackage | None:
    name = text(entry.get("DisplayName"))
    if name is None or not listed(entry):
        return None
    return SoftwarePackage(
        name=name,
        source=source,
        version=_version(entry.get("DisplayVersion")),
        publisher=text(entry.get("Publisher")),
        install_date=install_date(entry.get("InstallDate")),
        user=_profile(entry) if source == "registry_user" else None,
    )


def parse(raw: Raw) -> dict[str, Any]:
    packages: dict[tuple[str, str | None, str, str | None], SoftwarePackage] = {}
    collected = False
    for key, source in SOURCES.items():
        entries = instances(raw, key)
        collected = collected or entries is not None
        for entry in entries or []:
            package = _package(entry, source)
            if package is not None:  # the same program twice in one context (per MSI key) counts once
                packages.setdefault((package.name, package.version, source, package.user), package)
    if not collected:
        raise ProbeFailure("failed", "no Uninstall key was read")
    ordered = sorted(
        packages.values(), key=lambda p: (p.name.casefold(), p.version or "", p.source, p.user or "")
    )
    fields: dict[str, Any] = {"software": ordered[:MAX_PACKAGES]}
    if (unread := load_json(raw, UNREAD)) is not None:  # absent: not collected (older raw material)
        names = {account_name(name) for name in unread if isinstance(name, str)}
        fields["software_unread_profiles"] = sorted(names)[:MAX_ITEMS]
    return fields
