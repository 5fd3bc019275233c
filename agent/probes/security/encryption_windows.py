"""security.encryption on Windows: BitLocker's Win32_EncryptableVolume (needs administrator rights)
with each volume's GetConversionStatus(), which alone knows how far encryption has got, and
GetLockStatus(): a locked volume (a data drive not unlocked yet) answers no conversion status, yet
it is encrypted — it is reported ``encrypted`` and ``locked``, never as unencrypted.

A PC without BitLocker (Home editions, Server without the feature) has no such namespace or class:
:func:`agent.probes.windows.powershell` reports that as ``unsupported``, not as a failure."""

from __future__ import annotations

from typing import Any

from agent.probes.base import ProbeFailure, Raw, text
from agent.probes.windows import instances, powershell, to_int
from agent.schema.report import EncryptedVolume

VOLUMES = "Win32_EncryptableVolume.json"
VOLUMES_PIPELINE = (
    "Get-CimInstance -Namespace root/cimv2/Security/MicrosoftVolumeEncryption -ClassName "
    "Win32_EncryptableVolume | ForEach-Object { "
    "$status = Invoke-CimMethod -InputObject $_ -MethodName GetConversionStatus; "
    "$lock = Invoke-CimMethod -InputObject $_ -MethodName GetLockStatus; "
    "[pscustomobject]@{ DeviceID = $_.DeviceID; DriveLetter = $_.DriveLetter; "
    "ProtectionStatus = $_.ProtectionStatus; EncryptionMethod = $_.EncryptionMethod; "
    "ConversionStatus = $status.ConversionStatus; EncryptionPercentage = $status.EncryptionPercentage; "
    "LockStatus = $lock.LockStatus } }"
)

# Win32_EncryptableVolume.EncryptionMethod
ENCRYPTION_METHODS = {
    1: "AES-128 with Diffuser",
    2: "AES-256 with Diffuser",
    3: "AES-128",
    4: "AES-256",
    5: "Hardware",
    6: "XTS-AES-128",
    7: "XTS-AES-256",
}
FULLY_DECRYPTED = 0  # ConversionStatus; 1 fully encrypted, 2-5 (en|de)cryption in progress or paused
PROTECTION: dict[int | None, bool] = {0: False, 1: True}  # ProtectionStatus; 2 = unknown (volume locked)
LOCKED: dict[int | None, bool] = {0: False, 1: True}  # GetLockStatus().LockStatus


PIPELINES: dict[str, str] = {VOLUMES: VOLUMES_PIPELINE}
"""What collect() asks PowerShell; declared as data so one run serves every probe."""
REQUIRED_PIPELINES = (VOLUMES,)


def collect() -> dict[str, str | bytes]:
    return dict(powershell(PIPELINES, required=REQUIRED_PIPELINES))


def _method(value: Any) -> str | None:
    method = to_int(value)
    if not method:
        return None
    return ENCRYPTION_METHODS.get(method, f"unknown ({method})")


def _volume(entry: dict[str, Any]) -> EncryptedVolume | None:
    name = text(entry.get("DriveLetter")) or text(entry.get("DeviceID"))
    if name is None:
        return None
    conversion = to_int(entry.get("ConversionStatus"))
    method = _method(entry.get("EncryptionMethod"))
    percent = to_int(entry.get("EncryptionPercentage"))
    locked = LOCKED.get(to_int(entry.get("LockStatus")))
    if locked:  # only an encrypted volume can be locked; its other answers mean nothing then
        conversion = percent = None
    encrypted = conversion != FULLY_DECRYPTED if conversion is not None else method is not None
    return EncryptedVolume(
        volume=name,
        encrypted=True if locked else encrypted,
        method=method,
        protection_on=PROTECTION.get(to_int(entry.get("ProtectionStatus"))),
        encrypted_percent=float(percent) if percent is not None and 0 <= percent <= 100 else None,
        locked=locked,
    )


def parse(raw: Raw) -> dict[str, Any]:
    volumes = instances(raw, VOLUMES)
    if volumes is None:
        raise ProbeFailure("failed", "Win32_EncryptableVolume was not collected")
    found = [volume for entry in volumes if (volume := _volume(entry))]
    return {"disk_encryption": sorted(found, key=lambda volume: volume.volume)[:256]}
