"""security.antivirus on Windows: the products registered with Security Center (root/SecurityCenter2,
workstations only) and Microsoft Defender's own status (Get-MpComputerStatus, also on Windows
Server, which has no Security Center). When both know Defender, Defender's own, richer entry is
kept and Security Center's Microsoft entry is dropped; third-party products come from Security
Center only."""

from __future__ import annotations

from typing import Any

from agent.probes.base import ProbeFailure, Raw, text
from agent.probes.windows import cim, first_instance, instances, powershell, to_bool, to_int
from agent.schema.report import Antivirus

SECURITY_CENTER = "AntiVirusProduct.json"
DEFENDER = "MSFT_MpComputerStatus.json"

# productState is three bytes: provider, state, signatures. State nibble 0xF000: 0 off, 1 on,
# 2 snoozed, 3 expired; 0x0100: the product is Microsoft's own; 0xF0: 0x00 up to date, 0x10 out of date.
_STATE_ON = 0x1
_OWNER_MICROSOFT = 0x100
_SIGNATURES_OUT_OF_DATE = 0x10
# Defender treats signatures as out of date after AVSignatureDue days; 7 by default.
SIGNATURE_DUE_DAYS = 7
DEFENDER_NAME = "Microsoft Defender Antivirus"


def collect() -> dict[str, str | bytes]:
    return dict(
        powershell(
            {
                SECURITY_CENTER: cim(
                    "AntiVirusProduct", "displayName", "productState", namespace="root/SecurityCenter2"
                ),
                DEFENDER: "Get-MpComputerStatus | Select-Object AMRunningMode, AntivirusEnabled, "
                "RealTimeProtectionEnabled, AntivirusSignatureVersion, AntivirusSignatureAge",
            }
        )
    )


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
    age = to_int(status.get("AntivirusSignatureAge"))
    return Antivirus(
        name=DEFENDER_NAME,
        source="defender",
        enabled=enabled,
        up_to_date=None if age is None else age <= SIGNATURE_DUE_DAYS,
        signature_version=text(status.get("AntivirusSignatureVersion")),
        signature_age_days=float(age) if age is not None and age >= 0 else None,
    )


def parse(raw: Raw) -> dict[str, Any]:
    products = instances(raw, SECURITY_CENTER)
    defender = first_instance(raw, DEFENDER)
    if products is None and defender is None:
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
    return {"antivirus": found[:64]}
