"""security.firewall on Windows: Get-NetFirewallProfile from the active store (local settings merged
with Group Policy), or where that cmdlet is missing (Windows 7) the profiles' registry keys."""

from __future__ import annotations

from typing import Any, Literal

from agent.probes.base import ProbeFailure, Raw, text
from agent.probes.windows import instances, powershell, registry_values, to_int, to_json
from agent.schema.report import FirewallProfile

NET_FIREWALL_PROFILE = "NetFirewallProfile.json"
FIREWALL_POLICY = "FirewallPolicy.json"
POLICY_KEY = r"SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy"

Inbound = Literal["allow", "block", "unknown"]
# The registry calls the private profile "StandardProfile".
REGISTRY_PROFILES = {"DomainProfile": "domain", "StandardProfile": "private", "PublicProfile": "public"}
# MSFT_NetFirewallProfile: Enabled is a GpoBoolean (0 False, 1 True, 2 NotConfigured) and
# DefaultInboundAction an Action (0 NotConfigured, 2 Allow, 4 Block). NotConfigured leaves Windows'
# default in force: firewall on, inbound blocked.
GPO_BOOLEAN: dict[int | None, bool] = {0: False, 1: True, 2: True}
CIM_INBOUND: dict[int | None, Inbound] = {0: "block", 2: "allow", 4: "block"}
# Registry DefaultInboundAction: 1 block, 0 allow.
REGISTRY_INBOUND: dict[int | None, Inbound] = {0: "allow", 1: "block"}


PIPELINES: dict[str, str] = {
    NET_FIREWALL_PROFILE: "Get-NetFirewallProfile -PolicyStore ActiveStore | "
    "Select-Object Name, Enabled, DefaultInboundAction"
}
"""What collect() asks PowerShell; declared as data so one run serves every probe."""


def collect() -> dict[str, str | bytes]:
    try:
        raw: dict[str, str | bytes] = dict(powershell(PIPELINES))
    except ProbeFailure:
        raw = {}
    profiles = [registry_values(rf"{POLICY_KEY}\{name}") for name in REGISTRY_PROFILES]
    raw[FIREWALL_POLICY] = to_json([profile for profile in profiles if profile is not None])
    return raw


def _from_cim(profile: dict[str, Any]) -> FirewallProfile | None:
    name = (text(profile.get("Name")) or "").lower()
    enabled = GPO_BOOLEAN.get(to_int(profile.get("Enabled")))
    if not name or enabled is None:
        return None
    inbound = CIM_INBOUND.get(to_int(profile.get("DefaultInboundAction")), "unknown")
    return FirewallProfile(profile=name, enabled=enabled, default_inbound=inbound)


def _from_registry(key: dict[str, Any]) -> FirewallProfile | None:
    name = REGISTRY_PROFILES.get(text(key.get("PSChildName")) or "")
    enabled = to_int(key.get("EnableFirewall"))
    if name is None or enabled is None:
        return None
    inbound = REGISTRY_INBOUND.get(to_int(key.get("DefaultInboundAction")), "unknown")
    return FirewallProfile(profile=name, enabled=enabled == 1, default_inbound=inbound)


def parse(raw: Raw) -> dict[str, Any]:
    cim_profiles = instances(raw, NET_FIREWALL_PROFILE)
    if cim_profiles is not None:
        found = [profile for entry in cim_profiles if (profile := _from_cim(entry))]
    else:
        found = [
            profile for entry in instances(raw, FIREWALL_POLICY) or [] if (profile := _from_registry(entry))
        ]
    if not found:
        raise ProbeFailure("failed", "no firewall profile could be read")
    return {"firewall": found}
