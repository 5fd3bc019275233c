"""security.platform on Windows: SMBv1 server (Get-SmbServerConfiguration), Secure Boot
(Confirm-SecureBootUEFI, which throws on BIOS firmware: then unknown) and UAC (EnableLUA)."""

from __future__ import annotations

from typing import Any

from agent.probes.base import ProbeFailure, Raw
from agent.probes.windows import first_instance, powershell, registry_values, to_bool, to_json

SMB_SERVER = "SmbServerConfiguration.json"
SECURE_BOOT = "SecureBoot.json"
UAC = "UAC.json"
UAC_KEY = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System"


PIPELINES: dict[str, str] = {
    SMB_SERVER: "Get-SmbServerConfiguration | Select-Object EnableSMB1Protocol",
    SECURE_BOOT: "[pscustomobject]@{ SecureBoot = Confirm-SecureBootUEFI }",
}
"""What collect() asks PowerShell; declared as data so one run serves every probe."""


def collect() -> dict[str, str | bytes]:
    try:
        raw: dict[str, str | bytes] = dict(powershell(PIPELINES))
    except ProbeFailure:
        raw = {}  # UAC is still worth reporting
    raw[UAC] = to_json(registry_values(UAC_KEY, names=("EnableLUA",)))
    return raw


def _flag(raw: Raw, key: str, field: str) -> bool | None:
    return to_bool((first_instance(raw, key) or {}).get(field))


def parse(raw: Raw) -> dict[str, Any]:
    fields = {
        "smb1_enabled": _flag(raw, SMB_SERVER, "EnableSMB1Protocol"),
        "secure_boot": _flag(raw, SECURE_BOOT, "SecureBoot"),
        "uac_enabled": _flag(raw, UAC, "EnableLUA"),
    }
    if all(value is None for value in fields.values()):
        raise ProbeFailure("failed", "none of SMBv1, Secure Boot and UAC could be read")
    return fields
