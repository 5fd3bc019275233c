"""hardware.disks on Linux: whole disks under ``/sys/block`` (not loop, RAM, zram, device-mapper,
md, optical or empty card-reader devices), the udev names in ``/dev/disk/by-id`` for the full model
and serial (sysfs cuts an ATA model at 16 characters and has no ATA serial), and ``smartctl -H -j``
for the SMART verdict where smartctl is installed and may open the disk (root).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from agent.probes.base import Raw, load_json, text
from agent.probes.linux import (
    VIRTUAL_BLOCK_DEVICE,
    find_tool,
    optional_tool,
    sysfs_attributes,
    to_json,
    under,
)
from agent.schema.report import Disk

BLOCK = "block.json"
_ATTRIBUTES = ("size", "queue/rotational", "device/model", "device/serial", "serial")
# The bus a disk hangs on, from its sysfs path; USB first (a USB disk's path also has a SCSI host).
_INTERFACES = (
    ("/usb", "USB"),
    ("/nvme", "NVMe"),
    ("/ata", "SATA"),
    ("/mmc", "MMC"),
    ("/virtio", "virtio"),
    ("/xen", "Xen"),
    ("/target", "SCSI"),
)
# Virtual disks and USB bridges say "rotational" whatever is behind them: their media is unknown.
_UNRELIABLE_ROTATIONAL = ("USB", "virtio", "Xen")
# udev by-id names that carry <model>_<serial>; the USB ones end in -<lun>:<lun>.
_BY_ID = re.compile(r"(?:ata|nvme|usb|mmc)-(?P<model>.+)_(?P<serial>[^_]+?)(?:-\d+:\d+)?")


def smartctl_key(name: str) -> str:
    return f"smartctl-{name}.json"


def collect(root: str = "/", sys: str = "/sys") -> dict[str, str | bytes]:
    by_id: dict[str, list[str]] = {}
    id_dir = under(root, "dev/disk/by-id")
    if id_dir.is_dir():
        for link in sorted(id_dir.iterdir()):
            by_id.setdefault(Path(os.path.realpath(link)).name, []).append(link.name)
    disks: dict[str, dict[str, Any]] = {}
    for directory in sorted(under(sys, "block").iterdir()):
        if VIRTUAL_BLOCK_DEVICE.fullmatch(directory.name):
            continue
        attributes: dict[str, Any] = sysfs_attributes(directory, _ATTRIBUTES)
        attributes["path"] = os.path.realpath(directory)
        attributes["by-id"] = by_id.get(directory.name, [])
        disks[directory.name] = attributes
    raw: dict[str, str | bytes] = {BLOCK: to_json(disks)}
    if find_tool("smartctl"):
        for name in disks:
            # Exit status is a bit mask (8 = failing); the JSON says what was found either way.
            report = optional_tool("smartctl", "-H", "-j", f"/dev/{name}", ok_codes=tuple(range(256)))
            if report:
                raw[smartctl_key(name)] = report
    return raw


def _identity(attributes: dict[str, Any]) -> tuple[str | None, str | None]:
    """(model, serial): udev's by-id name first, then sysfs."""
    model = serial = None
    for name in attributes.get("by-id", []):
        if match := _BY_ID.fullmatch(name):
            model, serial = match["model"].replace("_", " "), match["serial"]
            break
    return (
        text(model or attributes.get("device/model")),
        text(attributes.get("device/serial") or attributes.get("serial") or serial),
    )


def _smart_healthy(raw: Raw, name: str) -> bool | None:
    status = (load_json(raw, smartctl_key(name)) or {}).get("smart_status", {})
    passed = status.get("passed") if isinstance(status, dict) else None
    return passed if isinstance(passed, bool) else None


def parse(raw: Raw) -> dict[str, Any]:
    disks = []
    for name, attributes in sorted((load_json(raw, BLOCK) or {}).items()):
        sectors = attributes.get("size", "")
        if VIRTUAL_BLOCK_DEVICE.fullmatch(name) or not sectors.isdigit() or int(sectors) == 0:
            continue
        path = attributes.get("path", "")
        interface = next((label for marker, label in _INTERFACES if marker in path), None)
        rotational = attributes.get("queue/rotational")
        media: Literal["ssd", "hdd", "unknown"] = "unknown"
        if interface not in _UNRELIABLE_ROTATIONAL and rotational in ("0", "1"):
            media = "hdd" if rotational == "1" else "ssd"
        model, serial = _identity(attributes)
        disks.append(
            Disk(
                name=name,
                size_bytes=int(sectors) * 512,  # sysfs counts 512-byte sectors whatever the disk's own
                model=model,
                serial=serial,
                media=media,
                interface=interface,
                smart_healthy=_smart_healthy(raw, name),
            )
        )
    return {"disks": disks}
