"""The agent → collector report: the one contract between the two halves of Dozor.

Every field is declared here once, with its type, unit (in the name: ``_bytes``, ``_percent``,
``_seconds``, ``_celsius``…) and description. The agent builds these structs; the collector decodes
incoming JSON with the same types, so anything that does not match is rejected before it is stored.
``report.schema.json`` beside this file is generated from these types (``python -m agent.schema``)
and kept current by a test.

A field that is ``None`` means "not collected" (the probe failed or does not apply on this OS; see
``Report.probe_errors``), never "empty": the collector must not read a missing list as "everything
was removed".
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

SCHEMA_VERSION = 2
"""Bumped on every change of the contract. The collector accepts this version and the one before."""
ACCEPTED_SCHEMA_VERSIONS = (1, 2)
"""What a collector decodes: version 2 only added optional fields, so a version 1 report (an agent
not upgraded yet) decodes with the same structs, its new fields None."""

_NO_NUL = r"^[^\x00]*$"

# Bounded types: a report is untrusted input, so every string and list has a ceiling.
Text = Annotated[str, Meta(max_length=1024, pattern=_NO_NUL)]
LongText = Annotated[str, Meta(max_length=8192, pattern=_NO_NUL)]
Bytes = Annotated[int, Meta(ge=0, le=2**63 - 1, description="bytes")]
Count = Annotated[int, Meta(ge=0, le=2**63 - 1)]
Percent = Annotated[float, Meta(ge=0, le=100, description="percent, 0..100")]
Celsius = Annotated[float, Meta(ge=-273.15, le=1000)]
Seconds = Annotated[float, Meta(ge=0)]
MachineId = Annotated[str, Meta(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9._:{}-]+$")]
Sha256 = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]

MAX_PACKAGES = 20_000
MAX_ITEMS = 1_024


def _doc(description: str, **extra: str) -> Meta:
    return Meta(description=description, extra=extra or None)


class _Base(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Reports reject unknown fields: a new field means a new schema version."""


# ---------------------------------------------------------------- errors


class ProbeError(_Base):
    """Why one probe produced nothing; the rest of the report is still valid."""

    probe: Annotated[str, Meta(max_length=64, pattern=r"^[a-z0-9_./]+$")]
    kind: Literal["timeout", "missing_tool", "permission", "unsupported", "failed"]
    message: LongText


# ---------------------------------------------------------------- health (every minute)


class FilesystemUsage(_Base):
    mountpoint: Text
    device: Text
    fstype: Text
    total_bytes: Bytes
    used_bytes: Bytes
    free_bytes: Bytes


class DiskIO(_Base):
    """Cumulative counters since boot; rates are computed by Prometheus."""

    device: Text
    read_bytes: Bytes
    write_bytes: Bytes
    read_count: Count
    write_count: Count


class NetIO(_Base):
    """Cumulative counters since boot."""

    interface: Text
    bytes_sent: Bytes
    bytes_recv: Bytes
    packets_sent: Count
    packets_recv: Count
    errors_in: Count
    errors_out: Count
    drops_in: Count
    drops_out: Count


class Temperature(_Base):
    sensor: Text
    label: Text
    current_celsius: Celsius
    high_celsius: Celsius | None = None
    critical_celsius: Celsius | None = None


class Fan(_Base):
    sensor: Text
    label: Text
    rpm: Annotated[int, Meta(ge=0, le=1_000_000)]


class Battery(_Base):
    percent: Percent
    power_plugged: bool | None = None
    seconds_left: Seconds | None = None


class LoggedInUser(_Base):
    name: Text
    terminal: Text | None = None
    host: Text | None = None
    started_at: datetime | None = None


class Health(_Base):
    """Fast-changing state, sent every ``health_interval`` (60 s by default)."""

    boot_time: Annotated[datetime, _doc("last boot, UTC")]
    cpu_percent: Annotated[
        float, Meta(ge=0, le=100, description="CPU busy over the last interval, all cores")
    ]
    cpu_count: Annotated[int, Meta(ge=1, le=4096, description="logical CPUs")]
    memory_total_bytes: Bytes
    memory_available_bytes: Bytes
    swap_total_bytes: Bytes
    swap_used_bytes: Bytes
    load_1m: Annotated[float, Meta(ge=0)] | None = None
    load_5m: Annotated[float, Meta(ge=0)] | None = None
    load_15m: Annotated[float, Meta(ge=0)] | None = None
    filesystems: Annotated[list[FilesystemUsage], Meta(max_length=MAX_ITEMS)] | None = None
    disk_io: Annotated[list[DiskIO], Meta(max_length=MAX_ITEMS)] | None = None
    net_io: Annotated[list[NetIO], Meta(max_length=MAX_ITEMS)] | None = None
    temperatures: Annotated[list[Temperature], Meta(max_length=MAX_ITEMS)] | None = None
    fans: Annotated[list[Fan], Meta(max_length=MAX_ITEMS)] | None = None
    battery: Battery | None = None
    users: Annotated[list[LoggedInUser], Meta(max_length=MAX_ITEMS)] | None = None


# ---------------------------------------------------------------- hardware


class OperatingSystem(_Base):
    family: Literal["windows", "linux", "other"]
    name: Annotated[Text, _doc("e.g. 'Microsoft Windows 11 Pro', 'Debian GNU/Linux 12 (bookworm)'")]
    version: Annotated[Text, _doc("e.g. '10.0.22631', '12'")]
    build: Text | None = None
    architecture: Text | None = None
    kernel: Text | None = None
    install_date: datetime | None = None
    display_version: Annotated[Text, _doc("v2. Windows feature update: '22H2', '23H2'")] | None = None
    edition: (
        Annotated[Text, _doc("v2. Windows EditionID ('Professional', 'Enterprise'); Linux variant")] | None
    ) = None


class SystemInfo(_Base):
    hostname: Text
    domain: Annotated[Text, _doc("AD / DNS domain the machine is joined to")] | None = None
    workgroup: Text | None = None
    manufacturer: Text | None = None
    model: Text | None = None
    serial: Text | None = None
    bios_vendor: Text | None = None
    bios_version: Text | None = None
    bios_date: Text | None = None
    smbios_uuid: (
        Annotated[Text, _doc("v2. SMBIOS system UUID, lower case; with machine_id it tells clones apart")]
        | None
    ) = None
    firmware_type: Annotated[Literal["uefi", "bios"], _doc("v2. how the PC booted")] | None = None


CpuNumber = Annotated[int, Meta(ge=0, le=0xFFFF)]


class Cpu(_Base):
    model: Text
    cores: Annotated[int, Meta(ge=1, le=4096)] | None = None
    threads: Annotated[int, Meta(ge=1, le=4096)] | None = None
    sockets: Annotated[int, Meta(ge=1, le=64)] | None = None
    max_mhz: Annotated[float, Meta(ge=0)] | None = None
    vendor: Annotated[Text, _doc("v2. CPUID vendor: 'GenuineIntel', 'AuthenticAMD'")] | None = None
    family: (
        Annotated[CpuNumber, _doc("v2. CPUID display family (extended family added), e.g. 6, 23, 25")] | None
    ) = None
    model_number: (
        Annotated[CpuNumber, _doc("v2. CPUID display model (extended model added), e.g. 158")] | None
    ) = None
    stepping: CpuNumber | None = None


class MemoryModule(_Base):
    slot: Text
    size_bytes: Bytes
    manufacturer: Text | None = None
    part_number: Text | None = None
    serial: Text | None = None
    speed_mhz: Annotated[int, Meta(ge=0)] | None = None
    type: Text | None = None


class Memory(_Base):
    total_bytes: Bytes
    modules: Annotated[list[MemoryModule], _doc("empty where the OS does not expose DMI to this user")] = []


class Disk(_Base):
    name: Annotated[Text, _doc("OS device name: 'sda', 'nvme0n1', '\\\\.\\PHYSICALDRIVE0'")]
    size_bytes: Bytes
    model: Text | None = None
    serial: Text | None = None
    media: Literal["ssd", "hdd", "unknown"] = "unknown"
    interface: Text | None = None
    smart_healthy: Annotated[bool, _doc("smartctl / MSFT_PhysicalDisk verdict")] | None = None


class NetworkInterface(_Base):
    name: Text
    mac: Annotated[str, Meta(pattern=r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")] | None = None
    addresses: Annotated[list[Text], Meta(max_length=256)] = []
    networks: (
        Annotated[
            list[Text],
            Meta(max_length=256),
            _doc("v2. the addresses with their prefix length, '10.20.0.15/24'"),
        ]
        | None
    ) = None
    speed_mbps: Annotated[int, Meta(ge=0)] | None = None
    is_up: bool | None = None
    description: Text | None = None


class Tpm(_Base):
    """v2. The Trusted Platform Module (Windows 11 needs version 2.0, present and enabled)."""

    present: bool
    version: Annotated[Text, _doc("spec version: '2.0', '1.2'")] | None = None
    enabled: bool | None = None
    activated: bool | None = None
    manufacturer: Text | None = None


class Monitor(_Base):
    manufacturer: Text | None = None
    model: Text | None = None
    serial: Text | None = None
    year_of_manufacture: Annotated[int, Meta(ge=1990, le=2100)] | None = None
    week_of_manufacture: Annotated[int, Meta(ge=0, le=255)] | None = None


class Hardware(_Base):
    system: SystemInfo | None = None
    os: OperatingSystem | None = None
    cpu: Cpu | None = None
    memory: Memory | None = None
    disks: Annotated[list[Disk], Meta(max_length=MAX_ITEMS)] | None = None
    network_interfaces: Annotated[list[NetworkInterface], Meta(max_length=MAX_ITEMS)] | None = None
    monitors: Annotated[list[Monitor], Meta(max_length=64)] | None = None
    tpm: Tpm | None = None


# ---------------------------------------------------------------- software


class SoftwarePackage(_Base):
    name: Text
    source: Literal["dpkg", "rpm", "registry", "registry_wow64", "registry_user", "appx", "other"]
    version: Text | None = None
    publisher: Text | None = None
    install_date: Annotated[Text, _doc("as the OS reports it, ISO date where known")] | None = None
    architecture: Text | None = None
    user: (
        Annotated[Text, _doc("v2. registry_user: the profile it is installed for (DOMAIN\\user or SID)")]
        | None
    ) = None


class Hotfix(_Base):
    id: Annotated[str, Meta(max_length=64, pattern=_NO_NUL)]
    description: Text | None = None
    installed_on: Text | None = None


# ---------------------------------------------------------------- security posture


class Antivirus(_Base):
    name: Text
    source: Literal["securitycenter", "defender", "clamav", "service", "other"]
    """``service``: v2, known only from its running service (Windows Server has no SecurityCenter2)."""
    enabled: bool | None = None
    up_to_date: bool | None = None
    signature_version: Text | None = None
    signature_age_days: Annotated[float, Meta(ge=0)] | None = None


class FirewallProfile(_Base):
    """One Windows profile (domain/private/public), or the Linux packet filter in use."""

    profile: Annotated[str, Meta(max_length=64, pattern=r"^[a-z0-9_-]+$")]
    enabled: bool
    default_inbound: Literal["allow", "block", "unknown"] = "unknown"


class Updates(_Base):
    pending_count: Count | None = None
    """None when not known: the update search failed, never ran, or is older than the agent trusts."""
    pending_security_count: Count | None = None
    last_installed_at: datetime | None = None
    reboot_required: bool | None = None
    search_state: (
        Annotated[
            Literal["current", "stale", "failed", "never"],
            _doc("v2. the last update search: recent enough, too old, failed, or none on record"),
        ]
        | None
    ) = None
    last_search_at: Annotated[datetime, _doc("v2. the last successful update search, UTC")] | None = None
    collected_at: (
        Annotated[datetime, _doc("v2. when this probe ran (it runs on its own cadence), UTC")] | None
    ) = None


class EncryptedVolume(_Base):
    volume: Text
    encrypted: bool
    method: Text | None = None
    protection_on: bool | None = None
    encrypted_percent: Percent | None = None
    locked: (
        Annotated[bool, _doc("v2. an encrypted volume that is locked (its state cannot be read further)")]
        | None
    ) = None


class LocalAdmin(_Base):
    """v2. A member of the local Administrators group (S-1-5-32-544), in a form that does not flap."""

    name: Annotated[Text, _doc("DOMAIN\\user, the domain upper case; Linux: the user name")]
    kind: Literal["user", "group", "unknown"] = "unknown"
    sid: Annotated[str, Meta(max_length=184, pattern=r"^S-1-[0-9-]+$")] | None = None


class Security(_Base):
    """Protection-of-information posture. Each field is None when its probe failed."""

    antivirus: Annotated[list[Antivirus], Meta(max_length=64)] | None = None
    firewall: Annotated[list[FirewallProfile], Meta(max_length=64)] | None = None
    updates: Updates | None = None
    disk_encryption: Annotated[list[EncryptedVolume], Meta(max_length=256)] | None = None
    local_admins: Annotated[list[Text], Meta(max_length=MAX_ITEMS)] | None = None
    local_admin_accounts: Annotated[list[LocalAdmin], Meta(max_length=MAX_ITEMS)] | None = None
    """v2: the members with SID and kind; ``local_admins`` keeps their names for v1 readers."""
    guest_enabled: bool | None = None
    rdp_enabled: bool | None = None
    ssh_enabled: bool | None = None
    smb1_enabled: bool | None = None
    secure_boot: bool | None = None
    uac_enabled: bool | None = None


class Inventory(_Base):
    """Slow-changing facts, collected at start and hourly; sent in full only when they change."""

    hardware: Hardware
    security: Security
    software: Annotated[list[SoftwarePackage], Meta(max_length=MAX_PACKAGES)] | None = None
    hotfixes: Annotated[list[Hotfix], Meta(max_length=MAX_PACKAGES)] | None = None
    software_unread_profiles: Annotated[list[Text], Meta(max_length=MAX_ITEMS)] | None = None
    """v2: user profiles whose per-user software could not be read (hive locked or unreadable)."""


# ---------------------------------------------------------------- the envelope


class Report(_Base):
    """One message from an agent. ``seq`` increases by one per report of this agent."""

    schema_version: int
    machine_id: Annotated[MachineId, _doc("/etc/machine-id or Windows MachineGuid")]
    seq: Annotated[int, Meta(ge=1, le=2**63 - 1, description="per-agent sequence number, 1, 2, 3…")]
    collected_at: Annotated[datetime, _doc("when the agent built the report, UTC")]
    agent_version: Annotated[str, Meta(max_length=64, pattern=_NO_NUL)]
    hostname: Text
    health: Health | None = None
    inventory: Inventory | None = None
    inventory_hash: Annotated[
        Sha256 | None,
        _doc("hash of the inventory; alone (without inventory) it means 'unchanged since that hash'"),
    ] = None
    probe_errors: Annotated[list[ProbeError], Meta(max_length=256)] = []
