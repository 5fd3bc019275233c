"""security.antivirus on Windows: the products registered with Security Center (root/SecurityCenter2,
workstations only) and Microsoft Defender's own status (Get-MpComputerStatus, also on Windows
Server, which has no Security Center). When both know Defender, Defender's own, richer entry is
kept and Security Center's Microsoft entry is dropped; third-party products come from Security
Center. Where Security Center is absent (Windows Server), third-party products are found by their
services (:data:`AV_SERVICES`), source ``service``: enabled when the service runs, nothing known
about their signatures."""

from __future__ import annotations

import fnmatch
from typing import Any

from agent.probes.base import ProbeFailure, Raw, text
from agent.probes.windows import (
    cim,
    first_instance,
    instances,
    parse_datetime,
    powershell,
    to_bool,
    to_int,
)
from agent.schema.report import Antivirus

SECURITY_CENTER = "AntiVirusProduct.json"
DEFENDER = "MSFT_MpComputerStatus.json"
SERVICES = "AntivirusServices.json"

AV_SERVICES: dict[str, str] = {
    # Service name (as Get-Service names it) → product. Source: the service names the vendors give
    # in their own documentation of their Windows endpoint products (ESET, Kaspersky, Broadcom/
    # Symantec, Sophos, Trellix/McAfee, Trend Micro, Bitdefender, CrowdStrike, SentinelOne).
    # Kaspersky's service carries the product version after "AVP" (AVP21.3), hence the wildcard.
    "ekrn": "ESET Security",
    "AVP*": "Kaspersky Endpoint Security",
    "SepMasterService": "Symantec Endpoint Protection",
    "SAVService": "Sophos Anti-Virus",
    "SEDService": "Sophos Endpoint Defense",
    "mfemms": "McAfee Endpoint Security",
    "ntrtscan": "Trend Micro Apex One",
    "EPSecurityService": "Bitdefender Endpoint Security Tools",
    "CSFalconService": "CrowdStrike Falcon",
    "SentinelAgent": "SentinelOne",
}

# productState is three bytes: provider, state, signatures. State nibble 0xF000: 0 off, 1 on,
# 2 snoozed, 3 expired; 0x0100: the product is Microsoft's own; 0xF0: 0x00 up to date, 0x10 out of date.
_STATE_ON = 0x1
_OWNER_MICROSOFT = 0x100
_SIGNATURES_OUT_OF_DATE = 0x10
# Defender treats signatures as out of date after AVSignatureDue days; 7 by default.
SIGNATURE_DUE_DAYS = 7
DEFENDER_NAME = "Microsoft Defender Antivirus"


PIPELINES: dict[str, str] = {
    SECURITY_CENTER: cim("AntiVirusProduct", "displayName", "productState", namespace="root/SecurityCenter2"),
    DEFENDER: "Get-MpComputerStatus | Select-Object AMServiceEnabled, AMRunningMode, "
    "AntivirusEnabled, RealTimeProtectionEnabled, AntivirusSignatureVersion, "
    "AntivirusSignatureAge, AntivirusSignatureLastUpdated, "
    "@{n='Now'; e={[DateTime]::UtcNow.ToString('yyyy-MM-dd HH:mm:ss', "
    "[cultureinfo]::InvariantCulture)}}",
    SERVICES: "Get-Service -ErrorAction SilentlyContinue -Name "
    + ", ".join(f"'{name}'" for name in AV_SERVICES)
    + " | Select-Object Name, @{n='Status'; e={[string]$_.Status}}",
}
"""What collect() asks PowerShell; declared as data so one run serves every probe."""


def collect() -> dict[str, str | bytes]:
    return dict(powershell(PIPELINES))


def product_state(state: int) -> tuple[bool, bool]:
    """(enabled, up to date) from SecurityCenter2's productState, e.g. 397568 = 0x061100: on, current."""
    return (state >> 12) & 0xF == _STATE_ON, state & 0xF0 != _SIGNATURES_OUT_OF_DATE


def _security_center(product: dict[str, Any]) -> Antivirus | None:
    name = text(product.get("displayName"))
    if name is None:
        return None
    state = to_int(product.get("productState"))
    enabled, up_to_date = product_state(state) if state is not None else (None, None)
    return Antivirus(name=name, source="securitycenter", enabled=enabled, up_to_date=up_to_date)


def _defender(status: dict[str, Any]) -> Antivirus:
    # In passive mode (another antivirus is primary) Defender scans on demand only.
    mode = text(status.get("AMRunningMode"))
    flags = [to_bool(status.get("AntivirusEnabled")), to_bool(status.get("RealTimeProtectionEnabled"))]
    enabled = None if None in flags else all(flags) and (mode is None or mode.lower() == "normal")
    if to_bool(status.get("AMServiceEnabled")) is False:  # the antimalware service itself is off
        enabled = False
    age = to_int(status.get("AntivirusSignatureAge"))
    if age is None or age >= 65535:  # 65535: Defender does not know; the date of the last update may
        age = _age_days(status.get("AntivirusSignatureLastUpdated"), status.get("Now"))
    return Antivirus(
        name=DEFENDER_NAME,
        source="defender",
        enabled=enabled,
        up_to_date=None if age is None else age <= SIGNATURE_DUE_DAYS,
        signature_version=text(status.get("AntivirusSignatureVersion")),
        signature_age_days=float(age) if age is not None and age >= 0 else None,
    )


def _age_days(updated: Any, now: Any) -> int | None:
    moment, current = parse_datetime(updated), parse_datetime(now)
    return None if moment is None or current is None else (current - moment).days


def product_for(service: str) -> str | None:
    """The product of a known AV service name (case-insensitive, ``*`` matches a version)."""
    for pattern, product in AV_SERVICES.items():
        if fnmatch.fnmatchcase(service.lower(), pattern.lower()):
            return product
    return None


def _by_service(services: list[Any]) -> list[Antivirus]:
    running: dict[str, bool] = {}
    for service in services:
        product = product_for(text(service.get("Name")) or "")
        if product is not None:
            state = text(service.get("Status")) or ""
            running[product] = running.get(product, False) or state.lower() in ("running", "4")
    return [Antivirus(name=name, source="service", enabled=on) for name, on in sorted(running.items())]


def parse(raw: Raw) -> dict[str, Any]:
    products = instances(raw, SECURITY_CENTER)
    defender = first_instance(raw, DEFENDER)
    services = instances(raw, SERVICES)
    if products is None and defender is None and not services:
        raise ProbeFailure("unsupported", "neither Security Center nor Microsoft Defender answered")
    found: list[Antivirus] = []
    if defender is not None:
        found.append(_defender(defender))
    for product in products or []:
        state = to_int(product.get("productState")) or 0
        if defender is not None and state & _OWNER_MICROSOFT:
            continue
        if (entry := _security_center(product)) is not None:
            found.append(entry)
    if products is None:  # no Security Center: products known by their services only
        found.extend(_by_service(services or []))
    return {"antivirus": found[:64]}
