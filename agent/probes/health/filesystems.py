"""health.filesystems (every platform, psutil): size and use of each mounted file system on a
disk. Pseudo and read-only image file systems (tmpfs, overlay, squashfs snaps…) are left out, and so
are drives that cannot answer (an empty DVD drive on Windows)."""

from __future__ import annotations

from typing import Any

import psutil

from agent.probes.base import Raw, text
from agent.probes.health import snapshot
from agent.schema.report import FilesystemUsage

PSEUDO_FILESYSTEMS = frozenset(
    {
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fuse.gvfsd-fuse",
        "fuse.portal",
        "fusectl",
        "hugetlbfs",
        "mqueue",
        "nsfs",
        "overlay",
        "proc",
        "pstore",
        "ramfs",
        "rpc_pipefs",
        "securityfs",
        "squashfs",
        "sysfs",
        "tmpfs",
        "tracefs",
    }
)


def collect() -> dict[str, str | bytes]:
    filesystems = []
    for partition in psutil.disk_partitions(all=False):
        try:
            usage = psutil.disk_usage(partition.mountpoint)
        except OSError:
            continue
        filesystems.append({**partition._asdict(), "usage": usage})
    return snapshot.dump({"filesystems": filesystems})


def parse(raw: Raw) -> dict[str, Any]:
    filesystems = []
    for entry in snapshot.load(raw).get("filesystems", []):
        fstype, device, usage = entry.get("fstype", ""), entry.get("device", ""), entry["usage"]
        mountpoint = text(entry.get("mountpoint"))
        if not mountpoint or fstype in PSEUDO_FILESYSTEMS or device.startswith("/dev/loop"):
            continue
        if not usage["total"]:
            continue
        filesystems.append(
            FilesystemUsage(
                mountpoint=mountpoint,
                device=device,
                fstype=fstype,
                total_bytes=usage["total"],
                used_bytes=usage["used"],
                free_bytes=usage["free"],
            )
        )
    return {"filesystems": sorted(filesystems, key=lambda filesystem: filesystem.mountpoint)}
