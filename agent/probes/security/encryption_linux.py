"""security.disk_encryption on Linux: every mounted file system on a disk, encrypted when a
dm-crypt device (LUKS or plain) lies between it and the disk (``lsblk`` shows the stack, also LVM on
LUKS), and LUKS containers that are not opened. ``/boot``, ``/boot/efi`` and swap are left out:
the first two cannot be encrypted in a standard install (Windows lists no EFI or recovery partition
either), and swap is not a volume anyone stores files on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from agent.probes.base import Raw, load_json, text
from agent.probes.linux import run_tool
from agent.schema.report import EncryptedVolume

LSBLK = "lsblk.json"
_NOT_DISKS = re.compile(r"(loop|ram|zram)\d*")
_UNENCRYPTABLE = {"/boot", "/boot/efi", "[SWAP]"}


def collect() -> dict[str, str | bytes]:
    return {LSBLK: run_tool("lsblk", "-J", "-o", "NAME,TYPE,FSTYPE,MOUNTPOINT")}


def _walk(device: dict[str, Any], method: str | None) -> Iterator[EncryptedVolume]:
    """The volumes under ``device``; ``method`` is how an ancestor encrypts them (None: it does not)."""
    children = device.get("children") or []
    mountpoint = text(device.get("mountpoint"))
    if device.get("type") == "crypt":
        method = method or "dm-crypt"
    if mountpoint and mountpoint not in _UNENCRYPTABLE:
        yield EncryptedVolume(volume=mountpoint, encrypted=method is not None, method=method)
    if device.get("fstype") == "crypto_LUKS" and not children:
        yield EncryptedVolume(volume=f"/dev/{device.get('name')}", encrypted=True, method="LUKS")
    for child in children:
        yield from _walk(child, "LUKS" if device.get("fstype") == "crypto_LUKS" else method)


def parse(raw: Raw) -> dict[str, Any]:
    volumes = [
        volume
        for disk in (load_json(raw, LSBLK) or {}).get("blockdevices", [])
        if not _NOT_DISKS.fullmatch(str(disk.get("name")))
        for volume in _walk(disk, None)
    ]
    return {"disk_encryption": sorted(volumes, key=lambda volume: volume.volume)}
