"""Realistic reports for tests and benchmarks: a Windows office PC with a few hundred packages."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import msgspec

from agent.schema.report import (
    SCHEMA_VERSION,
    Antivirus,
    Cpu,
    Disk,
    FilesystemUsage,
    FirewallProfile,
    Hardware,
    Health,
    Inventory,
    Memory,
    MemoryModule,
    NetIO,
    NetworkInterface,
    OperatingSystem,
    Report,
    Security,
    SoftwarePackage,
    SystemInfo,
    Updates,
)

PUBLISHERS = ("Microsoft Corporation", "Adobe Inc.", "Mozilla", "Google LLC", "ІІТ", "Intel Corporation")
BOOT = datetime(2026, 11, 28, 7, 55, tzinfo=UTC)


def packages(count: int, version_suffix: str = "") -> list[SoftwarePackage]:
    return [
        SoftwarePackage(
            name=f"Package {index:04d} {PUBLISHERS[index % len(PUBLISHERS)].split()[0]}",
            version=f"{index % 17}.{index % 5}.{index}{version_suffix}",
            publisher=PUBLISHERS[index % len(PUBLISHERS)],
            install_date="2025-03-14",
            architecture="x64" if index % 3 else "x86",
            source="registry" if index % 3 else "registry_wow64",
        )
        for index in range(count)
    ]


def inventory(
    machine: int = 1,
    package_count: int = 300,
    modules: tuple[tuple[str, int, str], ...] = (
        ("DIMM_A1", 8, "M471A1K43DB1"),
        ("DIMM_B1", 8, "M471A1K43DB1"),
    ),
    firewall_on: bool = True,
    antivirus_on: bool = True,
    software: list[SoftwarePackage] | None = None,
) -> Inventory:
    return Inventory(
        hardware=Hardware(
            system=SystemInfo(
                hostname=f"OBLRADA-PC{machine:04d}",
                domain="oblrada.local",
                manufacturer="HP",
                model="HP ProDesk 400 G7 MT",
                serial=f"CZC{machine:07d}",
                bios_vendor="HP",
                bios_version="S25 Ver. 02.18.00",
            ),
            os=OperatingSystem(
                family="windows",
                name="Microsoft Windows 10 Pro",
                version="10.0.19045",
                build="19045",
                architecture="64-bit",
            ),
            cpu=Cpu(model="Intel(R) Core(TM) i5-10500 CPU @ 3.10GHz", cores=6, threads=12, sockets=1),
            memory=Memory(
                total_bytes=sum(size for _, size, _ in modules) * 2**30,
                modules=[
                    MemoryModule(slot=slot, size_bytes=size * 2**30, manufacturer="Samsung", part_number=part)
                    for slot, size, part in modules
                ],
            ),
            disks=[
                Disk(
                    name="\\\\.\\PHYSICALDRIVE0",
                    size_bytes=256 * 10**9,
                    model="SAMSUNG MZVLB256",
                    serial=f"S4{machine:010d}",
                    media="ssd",
                )
            ],
            network_interfaces=[
                NetworkInterface(
                    name="Ethernet",
                    mac=f"3c:52:82:{machine >> 16 & 255:02x}:{machine >> 8 & 255:02x}:{machine & 255:02x}",
                    addresses=[f"10.20.{machine >> 8 & 255}.{machine & 255}"],
                    speed_mbps=1000,
                    is_up=True,
                )
            ],
            monitors=[],
        ),
        security=Security(
            antivirus=[
                Antivirus(
                    name="Windows Defender",
                    source="defender",
                    enabled=antivirus_on,
                    up_to_date=True,
                    signature_age_days=0.5,
                )
            ],
            firewall=[
                FirewallProfile(profile=name, enabled=firewall_on, default_inbound="block")
                for name in ("domain", "private", "public")
            ],
            updates=Updates(pending_count=2, pending_security_count=1, reboot_required=False),
            disk_encryption=[],
            local_admins=["OBLRADA\\Domain Admins", "Administrator"],
            guest_enabled=False,
            rdp_enabled=False,
            smb1_enabled=False,
            secure_boot=True,
            uac_enabled=True,
        ),
        software=packages(package_count) if software is None else software,
        hotfixes=[],
    )


def health(cpu_percent: float = 12.5) -> Health:
    return Health(
        boot_time=BOOT,
        cpu_percent=cpu_percent,
        cpu_count=12,
        memory_total_bytes=16 * 2**30,
        memory_available_bytes=9 * 2**30,
        swap_total_bytes=2 * 2**30,
        swap_used_bytes=2**28,
        filesystems=[
            FilesystemUsage(
                mountpoint="C:\\",
                device="C:\\",
                fstype="NTFS",
                total_bytes=255 * 10**9,
                used_bytes=120 * 10**9,
                free_bytes=135 * 10**9,
            )
        ],
        net_io=[
            NetIO(
                interface="Ethernet",
                bytes_sent=10**9,
                bytes_recv=5 * 10**9,
                packets_sent=10**6,
                packets_recv=4 * 10**6,
                errors_in=0,
                errors_out=0,
                drops_in=0,
                drops_out=0,
            )
        ],
    )


def machine_id(machine: int) -> str:
    return f"{machine:08x}-4d2a-4c5e-9f11-0242ac120002"


def report(
    machine: int = 1,
    seq: int = 1,
    with_health: bool = True,
    inv: Inventory | None = None,
    inventory_hash: str | None = None,
    at: datetime | None = None,
) -> Report:
    return Report(
        schema_version=SCHEMA_VERSION,
        machine_id=machine_id(machine),
        seq=seq,
        collected_at=at or datetime.now(UTC) - timedelta(seconds=1),
        agent_version="0.1.0",
        hostname=f"OBLRADA-PC{machine:04d}",
        health=health() if with_health else None,
        inventory=inv,
        inventory_hash=inventory_hash,
    )


def encode(report_: Report, compress: bool = True) -> bytes:
    body = msgspec.json.encode(report_)
    return gzip.compress(body, compresslevel=5) if compress else body
