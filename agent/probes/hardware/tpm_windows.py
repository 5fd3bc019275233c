"""hardware.tpm on Windows: Win32_Tpm (root/cimv2/Security/MicrosoftTpm; needs administrator
rights), which Windows 11's "TPM 2.0, present and enabled" is checked against. A PC without a TPM
(or with it off in the firmware) answers no instance: ``present`` False, not a failure."""

from __future__ import annotations

from typing import Any

from agent.probes.base import Raw, text
from agent.probes.windows import cim, first_instance, powershell, to_bool
from agent.schema.report import Tpm

TPM = "Win32_Tpm.json"


PIPELINES: dict[str, str] = {
    TPM: cim(
        "Win32_Tpm",
        "IsEnabled_InitialValue",
        "IsActivated_InitialValue",
        "SpecVersion",
        "ManufacturerIdTxt",
        namespace="root/cimv2/Security/MicrosoftTpm",
    ),
}
"""What collect() asks PowerShell; declared as data so one run serves every probe."""
REQUIRED_PIPELINES = (TPM,)


def collect() -> dict[str, str | bytes]:
    return dict(powershell(PIPELINES, required=REQUIRED_PIPELINES))


def spec_version(value: Any) -> str | None:
    """SpecVersion "2.0, 0, 1.38" (spec version, level, revision) → "2.0"."""
    version = (text(value) or "").split(",", 1)[0].strip()
    return version or None


def parse(raw: Raw) -> dict[str, Any]:
    tpm = first_instance(raw, TPM)
    if tpm is None:
        return {"tpm": Tpm(present=False)}
    return {
        "tpm": Tpm(
            present=True,
            version=spec_version(tpm.get("SpecVersion")),
            enabled=to_bool(tpm.get("IsEnabled_InitialValue")),
            activated=to_bool(tpm.get("IsActivated_InitialValue")),
            manufacturer=text(tpm.get("ManufacturerIdTxt")),
        )
    }
