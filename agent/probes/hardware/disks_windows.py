"""hardware.disks on Windows: Win32_DiskDrive for every disk, joined by disk number with
MSFT_PhysicalDisk (Windows 8+) for what Win32_DiskDrive cannot say: SSD or HDD, the real bus
(NVMe shows as "SCSI" in Win32_DiskDrive) and the storage stack's health verdict."""

from __future__ import annotations

from typing import Any, Literal

from agent.probes.base import ProbeFailure, Raw, hw_text, text
from agent.probes.windows import cim, instances, powershell, to_int
from agent.schema.report import Disk

DISK_DRIVE = "Win32_DiskDrive.json"
PHYSICAL_DISK = "MSFT_PhysicalDisk.json"

MEDIA_TYPES: dict[int | None, Literal["ssd", "hdd"]] = {3: "hdd", 4: "ssd", 5: "ssd"}  # 5 = SCM
# MSFT_PhysicalDisk.HealthStatus: 0 Healthy, 1 Warning, 2 Unhealthy, 5 Unknown.
HEALTH_STATUS: dict[int | None, bool] = {0: True, 1: False, 2: False}
BUS_TYPES: dict[int | None, str] = {
    1: "SCSI",
    2: "ATAPI",
    3: "ATA",
    4: "IEEE 1394",
    5: "SSA",
    6: "Fibre Channel",
    7: "USB",
    8: "RAID",
    9: "iSCSI",
    10: "SAS",
    11: "SATA",
    12: "SD",
    13: "MMC",
    15: "File Backed Virtual",
    16: "Storage Spaces",
    17: "NVMe",
    18: "SCM",
    19: "UFS",
}


PIPELINES: dict[str, str] = {
    DISK_DRIVE: cim(
        "Win32_DiskDrive",
        "DeviceID",
        "Index",
        "Model",
        "SerialNumber",
        "Size",
        "InterfaceType",
        "PNPDeviceID",
    ),
    PHYSICAL_DISK: cim(
        "MSFT_PhysicalDisk",
        "DeviceId",
        "MediaType",
        "BusType",
        "HealthStatus",
        namespace="root/Microsoft/Windows/Storage",
    ),
}
"""What collect() asks PowerShell; declared as data so one run serves every probe."""
REQUIRED_PIPELINES = (DISK_DRIVE,)


def collect() -> dict[str, str | bytes]:
    return dict(
        powershell(
            PIPELINES,
            required=REQUIRED_PIPELINES,
        )
    )


def _disk(drive: dict[str, Any], physical: dict[str, Any]) -> Disk | None:
    name = text(drive.get("DeviceID"))
    size = to_int(drive.get("Size"))
    if name is None or size is None:  # a card reader without a card
        return None
    bus = BUS_TYPES.get(to_int(physical.get("BusType")))
    media = MEDIA_TYPES.get(to_int(physical.get("MediaType")))
    if media is None and (bus == "NVMe" or "NVME" in (text(drive.get("PNPDeviceID")) or "").upper()):
        media = "ssd"  # NVMe is flash by definition, whatever MSFT_PhysicalDisk says
    return Disk(
        name=name,
        size_bytes=size,
        model=text(drive.get("Model")),
        serial=hw_text(drive.get("SerialNumber")),
        media=media or "unknown",
        interface=bus or text(drive.get("InterfaceType")),
        smart_healthy=HEALTH_STATUS.get(to_int(physical.get("HealthStatus"))),
    )


def parse(raw: Raw) -> dict[str, Any]:
    drives = instances(raw, DISK_DRIVE)
    if drives is None:
        raise ProbeFailure("failed", "Win32_DiskDrive was not collected")
    physical = {to_int(disk.get("DeviceId")): disk for disk in instances(raw, PHYSICAL_DISK) or []}
    drives.sort(key=lambda drive: to_int(drive.get("Index")) or 0)
    disks = [
        disk for drive in drives if (disk := _disk(drive, physical.get(to_int(drive.get("Index"))) or {}))
    ]
    return {"disks": disks}
