"""health.io (every platform, psutil): cumulative disk and network I/O counters since boot, per
whole disk and per interface; Prometheus turns them into rates. Partitions, loop and other virtual
block devices (their I/O is already counted on the disk underneath) and loopback are left out."""

from __future__ import annotations

import re
from typing import Any

import psutil

from agent.probes.base import Raw
from agent.probes.health import snapshot
from agent.probes.linux import VIRTUAL_BLOCK_DEVICE
from agent.schema.report import DiskIO, NetIO

PARTITION = re.compile(r"(sd|hd|vd|xvd)[a-z]+\d+|(nvme\d+n\d+|mmcblk\d+)p\d+")
LOOPBACK = re.compile(r"lo|Loopback.*", re.IGNORECASE)


def collect() -> dict[str, str | bytes]:
    return snapshot.dump(
        {
            "disk_io": psutil.disk_io_counters(perdisk=True, nowrap=True) or {},
            "net_io": psutil.net_io_counters(pernic=True, nowrap=True) or {},
        }
    )


def parse(raw: Raw) -> dict[str, Any]:
    data = snapshot.load(raw)
    disks = [
        DiskIO(
            device=name,
            read_bytes=counters["read_bytes"],
            write_bytes=counters["write_bytes"],
            read_count=counters["read_count"],
            write_count=counters["write_count"],
        )
        for name, counters in sorted(data.get("disk_io", {}).items())
        if not VIRTUAL_BLOCK_DEVICE.fullmatch(name) and not PARTITION.fullmatch(name)
    ]
    interfaces = [
        NetIO(
            interface=name,
            bytes_sent=counters["bytes_sent"],
            bytes_recv=counters["bytes_recv"],
            packets_sent=counters["packets_sent"],
            packets_recv=counters["packets_recv"],
            errors_in=counters["errin"],
            errors_out=counters["errout"],
            drops_in=counters["dropin"],
            drops_out=counters["dropout"],
        )
        for name, counters in sorted(data.get("net_io", {}).items())
        if not LOOPBACK.fullmatch(name)
    ]
    return {"disk_io": disks, "net_io": interfaces}
