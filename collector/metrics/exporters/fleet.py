"""Per-host and fleet gauges, rendered from the agents' in-memory fleet view."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from agent.schema.report import Health, Security
from collector.agents.fleet import Fleet, HostState
from collector.agents.windows11 import REQUIREMENTS, Requirement, assess
from collector.metrics.exporters.families import Families, as_float


class FleetCollector(Collector):
    """Renders per-host and fleet gauges from the in-memory fleet on each scrape."""

    def __init__(self, fleet: Fleet, offline_after: float, clock: Callable[[], float] = time.time) -> None:
        self._fleet = fleet
        self._offline_after = offline_after
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        families = Families()
        today = datetime.fromtimestamp(now, UTC).date()
        online = offline = 0
        blockers = dict.fromkeys(REQUIREMENTS, 0)
        for state in self._fleet.hosts():
            is_up = now - state.last_seen <= self._offline_after
            online += is_up
            offline += not is_up
            _host_metrics(families, state, is_up)
            for requirement in _windows11_metrics(families, state, today):
                blockers[requirement] += 1
        families.add("dozor_fleet_hosts", ("online",), online)
        families.add("dozor_fleet_hosts", ("offline",), offline)
        for requirement, count in blockers.items():
            families.add("dozor_fleet_windows11_blockers", (requirement,), count)
        yield from families


def _windows11_metrics(out: Families, state: HostState, today: date) -> list[Requirement]:
    """The host's readiness gauges; returns the requirements it fails (for the fleet count)."""
    readiness = assess(state.hardware, state.security, today)
    host = (str(state.device_id), state.hostname)
    if readiness.status in ("ready", "not_ready"):
        out.add("dozor_host_windows11_ready", host, float(readiness.status == "ready"))
    if readiness.status in ("ready", "not_ready", "unknown") and state.hardware and state.hardware.os:
        out.add("dozor_host_windows10_end_of_support", host, float(readiness.windows10_end_of_support))
    return readiness.failing


def _host_metrics(out: Families, state: HostState, is_up: bool) -> None:
    host = (str(state.device_id), state.hostname)
    out.add("dozor_host_up", host, float(is_up))
    out.add("dozor_host_last_seen_timestamp_seconds", host, state.last_seen)
    out.add("dozor_host_probe_errors", host, state.probe_errors)
    out.add("dozor_host_pending_approval", host, float(state.pending_approval))
    out.add("dozor_host_clone_conflict", host, float(state.clone_conflict))
    hardware = state.hardware
    if hardware is not None:
        os_ = hardware.os
        system = hardware.system
        out.add(
            "dozor_host_info",
            (
                *host,
                state.machine_id,
                os_.name if os_ else "",
                os_.version if os_ else "",
                (system.manufacturer or "") if system else "",
                (system.model or "") if system else "",
                state.agent_version or "",
            ),
            1,
        )
        for disk in hardware.disks or ():
            out.add(
                "dozor_host_disk_smart_healthy",
                (*host, disk.name, disk.model or ""),
                as_float(disk.smart_healthy),
            )
    if state.health is not None:
        _health_metrics(out, host, state.health)
    if state.security is not None:
        _security_metrics(out, host, state.security)


def _health_metrics(out: Families, host: tuple[str, str], health: Health) -> None:
    out.add("dozor_host_boot_time_seconds", host, health.boot_time.timestamp())
    out.add("dozor_host_cpu_usage_ratio", host, health.cpu_percent / 100)
    out.add("dozor_host_cpus", host, health.cpu_count)
    out.add("dozor_host_load1", host, health.load_1m)
    out.add("dozor_host_memory_total_bytes", host, health.memory_total_bytes)
    out.add("dozor_host_memory_available_bytes", host, health.memory_available_bytes)
    out.add("dozor_host_swap_total_bytes", host, health.swap_total_bytes)
    out.add("dozor_host_swap_used_bytes", host, health.swap_used_bytes)
    for fs in health.filesystems or ():
        labels = (*host, fs.mountpoint, fs.fstype)
        out.add("dozor_host_filesystem_size_bytes", labels, fs.total_bytes)
        out.add("dozor_host_filesystem_free_bytes", labels, fs.free_bytes)
    for disk in health.disk_io or ():
        out.add("dozor_host_disk_read_bytes_total", (*host, disk.device), disk.read_bytes)
        out.add("dozor_host_disk_written_bytes_total", (*host, disk.device), disk.write_bytes)
    for nic in health.net_io or ():
        labels = (*host, nic.interface)
        out.add("dozor_host_network_receive_bytes_total", labels, nic.bytes_recv)
        out.add("dozor_host_network_transmit_bytes_total", labels, nic.bytes_sent)
        out.add("dozor_host_network_errors_total", labels, nic.errors_in + nic.errors_out)
    for sensor in health.temperatures or ():
        out.add(
            "dozor_host_temperature_celsius", (*host, sensor.sensor, sensor.label), sensor.current_celsius
        )
    if health.battery is not None:
        out.add("dozor_host_battery_charge_ratio", host, health.battery.percent / 100)
    if health.users is not None:
        out.add("dozor_host_users_logged_in", host, len(health.users))


def _security_metrics(out: Families, host: tuple[str, str], security: Security) -> None:
    for profile in security.firewall or ():
        out.add("dozor_host_firewall_enabled", (*host, profile.profile), float(profile.enabled))
    for av in security.antivirus or ():
        labels = (*host, av.name)
        out.add("dozor_host_antivirus_enabled", labels, as_float(av.enabled))
        out.add("dozor_host_antivirus_up_to_date", labels, as_float(av.up_to_date))
        if av.signature_age_days is not None:
            out.add("dozor_host_antivirus_signature_age_seconds", labels, av.signature_age_days * 86400)
    updates = security.updates
    if updates is not None:
        out.add("dozor_host_updates_pending", host, updates.pending_count)
        out.add("dozor_host_security_updates_pending", host, updates.pending_security_count)
        if updates.last_installed_at is not None:
            out.add(
                "dozor_host_updates_last_installed_timestamp_seconds",
                host,
                updates.last_installed_at.timestamp(),
            )
        out.add("dozor_host_reboot_required", host, as_float(updates.reboot_required))
    for volume in security.disk_encryption or ():
        out.add("dozor_host_volume_encrypted", (*host, volume.volume), float(volume.encrypted))
    if security.local_admins is not None:
        out.add("dozor_host_local_admins", host, len(security.local_admins))
    out.add("dozor_host_guest_enabled", host, as_float(security.guest_enabled))
    out.add("dozor_host_rdp_enabled", host, as_float(security.rdp_enabled))
    out.add("dozor_host_ssh_enabled", host, as_float(security.ssh_enabled))
    out.add("dozor_host_smb1_enabled", host, as_float(security.smb1_enabled))
    out.add("dozor_host_secure_boot_enabled", host, as_float(security.secure_boot))
    out.add("dozor_host_uac_enabled", host, as_float(security.uac_enabled))
