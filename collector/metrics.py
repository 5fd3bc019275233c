"""Prometheus metrics: every metric Dozor exports is declared once in ``SPECS`` (name, type, unit,
help, labels); a test checks that what ``/metrics`` emits matches these declarations.

Per-host gauges are rendered by :class:`FleetCollector` from the in-memory :class:`~collector.fleet.Fleet`
on each scrape — never from the database. The collector's own counters and histograms are plain
prometheus_client instruments created from the same declarations.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from agent.schema.report import Health, Security
from collector.backup_view import BackupView
from collector.device_view import DeviceState, DeviceView
from collector.discovery_view import DiscoveryView
from collector.fleet import Fleet, HostState

# ``*_created`` series double the output and no dashboard or rule of ours reads them.
disable_created_metrics()

MetricType = Literal["gauge", "counter", "histogram"]
UNKNOWN_INFO_MAX = 100
"""Unknown devices exported one series each; beyond that only their count (a flood of random
MACs must not flood Prometheus)."""
HOST = ("host_id", "host")
DEVICE = ("device_id", "device")
INTERFACE = ("interface", "if_index")


@dataclass(frozen=True)
class MetricSpec:
    name: str
    """Exposition name: counters end in ``_total``, the unit is the last word before it."""
    type: MetricType
    unit: str
    help: str
    labels: tuple[str, ...] = ()


def _host(name: str, type_: MetricType, unit: str, help_: str, *extra: str) -> MetricSpec:
    return MetricSpec(name, type_, unit, help_, (*HOST, *extra))


def _device(name: str, type_: MetricType, unit: str, help_: str, *extra: str) -> MetricSpec:
    return MetricSpec(name, type_, unit, help_, (*DEVICE, *extra))


SPECS: tuple[MetricSpec, ...] = (
    # ---- per host: liveness and identity
    _host("dozor_host_up", "gauge", "", "1 if the host's agent reported within the offline threshold."),
    _host("dozor_host_last_seen_timestamp_seconds", "gauge", "seconds", "Unix time of the last report."),
    _host(
        "dozor_host_info",
        "gauge",
        "",
        "Always 1; labels describe the host.",
        "machine_id",
        "os",
        "os_version",
        "manufacturer",
        "model",
        "agent_version",
    ),
    _host("dozor_host_probe_errors", "gauge", "", "Probes that failed in the host's last report."),
    # ---- per host: health
    _host("dozor_host_boot_time_seconds", "gauge", "seconds", "Unix time of the host's last boot."),
    _host("dozor_host_cpu_usage_ratio", "gauge", "ratio", "CPU busy share over the agent's interval, 0..1."),
    _host("dozor_host_cpus", "gauge", "", "Logical CPUs."),
    _host("dozor_host_load1", "gauge", "", "1-minute load average (Linux)."),
    _host("dozor_host_memory_total_bytes", "gauge", "bytes", "Physical memory."),
    _host("dozor_host_memory_available_bytes", "gauge", "bytes", "Memory available without swapping."),
    _host("dozor_host_swap_total_bytes", "gauge", "bytes", "Swap / page file size."),
    _host("dozor_host_swap_used_bytes", "gauge", "bytes", "Swap / page file in use."),
    _host("dozor_host_filesystem_size_bytes", "gauge", "bytes", "Filesystem size.", "mountpoint", "fstype"),
    _host(
        "dozor_host_filesystem_free_bytes",
        "gauge",
        "bytes",
        "Filesystem space free for users.",
        "mountpoint",
        "fstype",
    ),
    _host("dozor_host_disk_read_bytes_total", "counter", "bytes", "Bytes read from a disk.", "device"),
    _host("dozor_host_disk_written_bytes_total", "counter", "bytes", "Bytes written to a disk.", "device"),
    _host("dozor_host_network_receive_bytes_total", "counter", "bytes", "Bytes received.", "interface"),
    _host("dozor_host_network_transmit_bytes_total", "counter", "bytes", "Bytes sent.", "interface"),
    _host("dozor_host_network_errors_total", "counter", "", "Receive and transmit errors.", "interface"),
    _host("dozor_host_temperature_celsius", "gauge", "celsius", "Sensor temperature.", "sensor", "label"),
    _host("dozor_host_battery_charge_ratio", "gauge", "ratio", "Battery charge, 0..1."),
    _host("dozor_host_users_logged_in", "gauge", "", "Sessions of logged-in users."),
    _host(
        "dozor_host_disk_smart_healthy",
        "gauge",
        "",
        "1 if SMART says the disk is healthy, 0 if failing.",
        "disk",
        "model",
    ),
    # ---- per host: security posture
    _host("dozor_host_firewall_enabled", "gauge", "", "1 if the firewall profile is on.", "profile"),
    _host("dozor_host_antivirus_enabled", "gauge", "", "1 if the antivirus product is on.", "product"),
    _host(
        "dozor_host_antivirus_up_to_date",
        "gauge",
        "",
        "1 if the product says its signatures are current.",
        "product",
    ),
    _host(
        "dozor_host_antivirus_signature_age_seconds",
        "gauge",
        "seconds",
        "Age of the antivirus signatures.",
        "product",
    ),
    _host("dozor_host_updates_pending", "gauge", "", "Updates offered but not installed."),
    _host("dozor_host_security_updates_pending", "gauge", "", "Security updates offered but not installed."),
    _host(
        "dozor_host_updates_last_installed_timestamp_seconds",
        "gauge",
        "seconds",
        "Unix time the last update was installed.",
    ),
    _host("dozor_host_reboot_required", "gauge", "", "1 if installed updates wait for a reboot."),
    _host("dozor_host_volume_encrypted", "gauge", "", "1 if the volume is encrypted.", "volume"),
    _host("dozor_host_local_admins", "gauge", "", "Members of the local administrators group."),
    _host("dozor_host_guest_enabled", "gauge", "", "1 if the guest account is enabled."),
    _host("dozor_host_rdp_enabled", "gauge", "", "1 if Remote Desktop accepts connections."),
    _host("dozor_host_ssh_enabled", "gauge", "", "1 if an SSH server listens."),
    _host("dozor_host_smb1_enabled", "gauge", "", "1 if the SMBv1 server protocol is on."),
    _host("dozor_host_secure_boot_enabled", "gauge", "", "1 if UEFI Secure Boot is on."),
    _host("dozor_host_uac_enabled", "gauge", "", "1 if User Account Control is on."),
    # ---- fleet
    MetricSpec("dozor_fleet_hosts", "gauge", "", "Hosts with an agent, by liveness.", ("state",)),
    # ---- the collector itself
    MetricSpec(
        "dozor_reports_accepted_total", "counter", "", "Agent reports stored, by content.", ("content",)
    ),
    MetricSpec(
        "dozor_reports_duplicate_total", "counter", "", "Agent reports received again (already stored)."
    ),
    MetricSpec(
        "dozor_reports_rejected_total", "counter", "", "Agent requests refused, by reason.", ("reason",)
    ),
    MetricSpec(
        "dozor_report_sequence_gaps_total", "counter", "", "Reports an agent numbered but never delivered."
    ),
    MetricSpec("dozor_enrollments_total", "counter", "", "Agent enrollments, by outcome.", ("outcome",)),
    MetricSpec(
        "dozor_change_events_total", "counter", "", "Inventory changes recorded.", ("category", "kind")
    ),
    MetricSpec(
        "dozor_ingest_duration_seconds",
        "histogram",
        "seconds",
        "Time from receiving a report to its commit.",
    ),
    MetricSpec(
        "dozor_db_write_duration_seconds", "histogram", "seconds", "Time to write and commit one batch."
    ),
    MetricSpec("dozor_db_write_batch_reports", "histogram", "", "Reports committed per batch."),
    MetricSpec("dozor_ingest_queue_reports", "gauge", "", "Reports waiting for the database writer."),
    MetricSpec("dozor_db_errors_total", "counter", "", "Failed database batches."),
    MetricSpec(
        "dozor_poll_runs_skipped_total",
        "counter",
        "",
        "Scheduled device runs skipped because the device's previous run had not finished "
        "(the pollers cannot keep up with their interval).",
        ("poller",),
    ),
    # ---- polled network devices (SNMP): rendered from the in-memory device view
    _device(
        "dozor_device_info",
        "gauge",
        "",
        "Always 1: where the device is, as configured (join on device_id to name it in alerts).",
        "kind",
        "address",
        "location",
        "group",
    ),
    _device("dozor_device_up", "gauge", "", "1 if the device answered its last poll.", "kind"),
    _device(
        "dozor_device_last_success_timestamp_seconds",
        "gauge",
        "seconds",
        "Unix time of the last poll the device answered.",
        "kind",
    ),
    _device(
        "dozor_device_poll_errors_total",
        "counter",
        "",
        "Polls the device did not answer since the collector started, by error.",
        "kind",
        "error",
    ),
    _device("dozor_interface_up", "gauge", "", "1 if the interface is operationally up.", *INTERFACE),
    _device(
        "dozor_interface_uplink",
        "gauge",
        "",
        "1 on a port where the device sees an LLDP neighbour (a link to other network gear); "
        "absent on other ports.",
        *INTERFACE,
    ),
    _device(
        "dozor_interface_receive_bytes_total",
        "counter",
        "bytes",
        "Octets received, counted since the collector began polling the interface "
        "(32-bit wraps and device restarts absorbed).",
        *INTERFACE,
    ),
    _device(
        "dozor_interface_transmit_bytes_total",
        "counter",
        "bytes",
        "Octets sent, counted since the collector began polling the interface "
        "(32-bit wraps and device restarts absorbed).",
        *INTERFACE,
    ),
    _device(
        "dozor_interface_errors_total",
        "counter",
        "",
        "Inbound plus outbound errors, counted since the collector began polling the interface.",
        *INTERFACE,
    ),
    _device(
        "dozor_interface_speed_bytes", "gauge", "bytes", "Interface speed in bytes per second.", *INTERFACE
    ),
    _device(
        "dozor_printer_supply_level_ratio",
        "gauge",
        "ratio",
        "Supply level, 0..1 (only when the printer reports a real quantity).",
        "supply",
        "colour",
    ),
    _device(
        "dozor_printer_supply_empty_timestamp_seconds",
        "gauge",
        "seconds",
        "Unix time the supply runs out at the rate it was used since it was last replaced "
        "(forecast from the collector's supply history; absent until a day of use is seen).",
        "supply",
        "colour",
    ),
    _device("dozor_printer_pages_total", "counter", "", "Pages printed over the printer's life."),
    _device(
        "dozor_printer_condition", "gauge", "", "1 for each condition the printer reports now.", "condition"
    ),
    _device("dozor_ups_on_battery", "gauge", "", "1 if the UPS output runs on battery."),
    _device("dozor_ups_battery_charge_ratio", "gauge", "ratio", "Battery charge, 0..1."),
    _device("dozor_ups_runtime_remaining_seconds", "gauge", "seconds", "Estimated runtime left on battery."),
    _device("dozor_ups_load_ratio", "gauge", "ratio", "Output load, share of the rated capacity."),
    _device(
        "dozor_ups_battery_replace_needed",
        "gauge",
        "",
        "1 if the UPS says its battery needs replacing (absent where the UPS does not tell).",
    ),
    # ---- network devices' running configs over SSH: rendered from the in-memory backup view
    _device(
        "dozor_device_config_last_change_timestamp_seconds",
        "gauge",
        "seconds",
        "Unix time the device's running configuration last changed (absent until a change is stored).",
    ),
    _device(
        "dozor_device_config_changes_total",
        "counter",
        "",
        "Running-configuration changes this collector stored since it started.",
    ),
    _device(
        "dozor_device_ssh_host_key_mismatch",
        "gauge",
        "",
        "1 while the device presents an SSH host key other than the trusted one (backups stopped "
        "until an administrator accepts it).",
    ),
    _device(
        "dozor_device_backup_last_success_timestamp_seconds",
        "gauge",
        "seconds",
        "Unix time of the last SSH session that read the device's running configuration.",
    ),
    _device(
        "dozor_device_backup_errors_total",
        "counter",
        "",
        "Failed SSH config backups since the collector started, by error.",
        "error",
    ),
    # ---- LAN discovery: rendered from the in-memory discovery view
    MetricSpec(
        "dozor_discovery_unknown_devices",
        "gauge",
        "",
        "Devices on the LAN that nobody accepted into operation, seen in the last sweeps.",
    ),
    MetricSpec(
        "dozor_discovery_unknown_device_info",
        "gauge",
        "",
        "Always 1, one series per unknown device (the newest ones, at most "
        f"{UNKNOWN_INFO_MAX}): where it is plugged in, for the alert to name it.",
        ("device_id", "mac", "vendor", "switch", "port", "vlan"),
    ),
    MetricSpec(
        "dozor_discovery_sweep_duration_seconds", "gauge", "seconds", "Wall time of the last LAN sweep."
    ),
    MetricSpec(
        "dozor_discovery_errors_total",
        "counter",
        "",
        "LAN sweeps that failed since the collector started, by error (no_cap_net_raw, …).",
        ("error",),
    ),
    MetricSpec(
        "dozor_discovery_last_success_timestamp_seconds",
        "gauge",
        "seconds",
        "Unix time of the last LAN sweep that completed.",
    ),
)
SPEC: dict[str, MetricSpec] = {spec.name: spec for spec in SPECS}

_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class CollectorMetrics:
    """The collector's own instruments, registered in ``registry`` from their declarations."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.reports_accepted = self._counter(registry, "dozor_reports_accepted_total")
        self.reports_duplicate = self._counter(registry, "dozor_reports_duplicate_total")
        self.reports_rejected = self._counter(registry, "dozor_reports_rejected_total")
        self.sequence_gaps = self._counter(registry, "dozor_report_sequence_gaps_total")
        self.enrollments = self._counter(registry, "dozor_enrollments_total")
        self.change_events = self._counter(registry, "dozor_change_events_total")
        self.db_errors = self._counter(registry, "dozor_db_errors_total")
        self.poll_runs_skipped = self._counter(registry, "dozor_poll_runs_skipped_total")
        self.ingest_duration = self._histogram(registry, "dozor_ingest_duration_seconds", _LATENCY_BUCKETS)
        self.db_write_duration = self._histogram(
            registry, "dozor_db_write_duration_seconds", _LATENCY_BUCKETS
        )
        self.db_batch_size = self._histogram(registry, "dozor_db_write_batch_reports", _BATCH_BUCKETS)
        spec = SPEC["dozor_ingest_queue_reports"]
        self.queue_depth = Gauge(spec.name, spec.help, spec.labels, registry=registry)

    @staticmethod
    def _counter(registry: CollectorRegistry, name: str) -> Counter:
        spec = SPEC[name]
        return Counter(spec.name.removesuffix("_total"), spec.help, spec.labels, registry=registry)

    @staticmethod
    def _histogram(registry: CollectorRegistry, name: str, buckets: tuple[float, ...]) -> Histogram:
        spec = SPEC[name]
        return Histogram(spec.name, spec.help, spec.labels, buckets=buckets, registry=registry)


def _bool(value: bool | None) -> float | None:
    return None if value is None else float(value)


class _Families:
    """Families for one scrape, created on first use from their declarations."""

    def __init__(self) -> None:
        self._families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}

    def add(self, name: str, labels: tuple[str, ...], value: float | None) -> None:
        if value is None:
            return
        family = self._families.get(name)
        if family is None:
            spec = SPEC[name]
            if spec.type == "counter":
                family = CounterMetricFamily(name.removesuffix("_total"), spec.help, labels=spec.labels)
            else:
                family = GaugeMetricFamily(name, spec.help, labels=spec.labels)
            self._families[name] = family
        family.add_metric(labels, value)

    def __iter__(self) -> Iterator[Metric]:
        return iter(self._families.values())


class FleetCollector(Collector):
    """Renders per-host and fleet gauges from the in-memory fleet on each scrape."""

    def __init__(self, fleet: Fleet, offline_after: float, clock: Callable[[], float] = time.time) -> None:
        self._fleet = fleet
        self._offline_after = offline_after
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        families = _Families()
        online = offline = 0
        for state in self._fleet.hosts():
            is_up = now - state.last_seen <= self._offline_after
            online += is_up
            offline += not is_up
            _host_metrics(families, state, is_up)
        families.add("dozor_fleet_hosts", ("online",), online)
        families.add("dozor_fleet_hosts", ("offline",), offline)
        yield from families


def _host_metrics(out: _Families, state: HostState, is_up: bool) -> None:
    host = (str(state.device_id), state.hostname)
    out.add("dozor_host_up", host, float(is_up))
    out.add("dozor_host_last_seen_timestamp_seconds", host, state.last_seen)
    out.add("dozor_host_probe_errors", host, state.probe_errors)
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
                _bool(disk.smart_healthy),
            )
    if state.health is not None:
        _health_metrics(out, host, state.health)
    if state.security is not None:
        _security_metrics(out, host, state.security)


def _health_metrics(out: _Families, host: tuple[str, str], health: Health) -> None:
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


def _security_metrics(out: _Families, host: tuple[str, str], security: Security) -> None:
    for profile in security.firewall or ():
        out.add("dozor_host_firewall_enabled", (*host, profile.profile), float(profile.enabled))
    for av in security.antivirus or ():
        labels = (*host, av.name)
        out.add("dozor_host_antivirus_enabled", labels, _bool(av.enabled))
        out.add("dozor_host_antivirus_up_to_date", labels, _bool(av.up_to_date))
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
        out.add("dozor_host_reboot_required", host, _bool(updates.reboot_required))
    for volume in security.disk_encryption or ():
        out.add("dozor_host_volume_encrypted", (*host, volume.volume), float(volume.encrypted))
    if security.local_admins is not None:
        out.add("dozor_host_local_admins", host, len(security.local_admins))
    out.add("dozor_host_guest_enabled", host, _bool(security.guest_enabled))
    out.add("dozor_host_rdp_enabled", host, _bool(security.rdp_enabled))
    out.add("dozor_host_ssh_enabled", host, _bool(security.ssh_enabled))
    out.add("dozor_host_smb1_enabled", host, _bool(security.smb1_enabled))
    out.add("dozor_host_secure_boot_enabled", host, _bool(security.secure_boot))
    out.add("dozor_host_uac_enabled", host, _bool(security.uac_enabled))


class BackupCollector(Collector):
    """Renders the SSH config backups' gauges and counters from the in-memory backup view."""

    def __init__(self, view: BackupView) -> None:
        self._view = view

    def collect(self) -> Iterator[Metric]:
        families = _Families()
        for state in self._view.devices():
            device = (str(state.device_id), state.name)
            families.add("dozor_device_config_last_change_timestamp_seconds", device, state.last_change)
            families.add("dozor_device_config_changes_total", device, state.config_changes)
            families.add("dozor_device_ssh_host_key_mismatch", device, float(state.host_key_mismatch))
            families.add("dozor_device_backup_last_success_timestamp_seconds", device, state.last_success)
            for error, count in state.errors.items():
                families.add("dozor_device_backup_errors_total", (*device, error), count)
        yield from families


class DiscoveryCollector(Collector):
    """Renders LAN discovery's gauges and counters from the in-memory discovery view."""

    def __init__(self, view: DiscoveryView) -> None:
        self._view = view

    def collect(self) -> Iterator[Metric]:
        state = self._view.state()
        if not state.ran:
            return
        families = _Families()
        families.add("dozor_discovery_unknown_devices", (), float(len(state.unknown)))
        for device in state.unknown[:UNKNOWN_INFO_MAX]:
            labels = (
                str(device.device_id),
                device.mac or "",
                device.vendor or "",
                device.switch or "",
                device.port or "",
                "" if device.vlan is None else str(device.vlan),
            )
            families.add("dozor_discovery_unknown_device_info", labels, 1.0)
        families.add("dozor_discovery_sweep_duration_seconds", (), state.sweep_seconds)
        for error, count in state.errors.items():
            families.add("dozor_discovery_errors_total", (error,), count)
        families.add("dozor_discovery_last_success_timestamp_seconds", (), state.last_success)
        yield from families


class DeviceCollector(Collector):
    """Renders the polled devices' gauges and counters from the in-memory device view."""

    def __init__(self, view: DeviceView) -> None:
        self._view = view

    def collect(self) -> Iterator[Metric]:
        families = _Families()
        for state in self._view.devices():
            _device_metrics(families, state)
        yield from families


YES_NO = {"yes": 1.0, "no": 0.0}
"""Facts a profile maps to yes/no (``replace_battery``) as a gauge."""


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _ratio(percent: object) -> float | None:
    value = _number(percent)
    return None if value is None else value / 100


def _device_metrics(out: _Families, state: DeviceState) -> None:
    device = (str(state.device_id), state.identity.name)
    identity = state.identity
    kind = identity.kind
    out.add(
        "dozor_device_info",
        (*device, kind, identity.address, identity.location or "", identity.group or ""),
        1,
    )
    out.add("dozor_device_up", (*device, kind), float(state.up))
    out.add("dozor_device_last_success_timestamp_seconds", (*device, kind), state.last_success)
    for error, count in state.poll_errors.items():
        out.add("dozor_device_poll_errors_total", (*device, kind, error), count)
    for nic in state.interfaces:
        labels = (*device, str(nic.get("name") or nic.get("descr") or ""), str(nic.get("if_index")))
        oper = nic.get("oper_status")
        out.add("dozor_interface_up", labels, None if oper is None else float(oper == "up"))
        if {nic.get("name"), nic.get("descr")} & state.uplinks:
            out.add("dozor_interface_uplink", labels, 1)
        out.add("dozor_interface_receive_bytes_total", labels, _number(nic.get("in_octets_total")))
        out.add("dozor_interface_transmit_bytes_total", labels, _number(nic.get("out_octets_total")))
        errors = [_number(nic.get("in_errors_total")), _number(nic.get("out_errors_total"))]
        known = [count for count in errors if count is not None]
        out.add("dozor_interface_errors_total", labels, sum(known) if known else None)
        speed = _number(nic.get("speed_bps"))
        out.add("dozor_interface_speed_bytes", labels, None if speed is None else speed / 8)
    for supply in state.supplies:
        labels = (*device, supply["name"], str(supply.get("colour") or ""))
        out.add("dozor_printer_supply_level_ratio", labels, _ratio(supply.get("percent")))
        out.add("dozor_printer_supply_empty_timestamp_seconds", labels, supply.get("empty_at"))
    if state.printer:
        out.add("dozor_printer_pages_total", device, _number(state.printer.get("page_count")))
        for condition in state.printer.get("conditions") or ():
            out.add("dozor_printer_condition", (*device, str(condition)), 1)
    if state.ups:
        on_battery = state.ups.get("on_battery")
        out.add("dozor_ups_on_battery", device, None if on_battery is None else float(on_battery))
        out.add("dozor_ups_battery_charge_ratio", device, _ratio(state.ups.get("charge_percent")))
        minutes = _number(state.ups.get("runtime_minutes"))
        out.add("dozor_ups_runtime_remaining_seconds", device, None if minutes is None else minutes * 60)
        out.add("dozor_ups_load_ratio", device, _ratio(state.ups.get("load_percent")))
        replace_needed = YES_NO.get(state.ups.get("replace_battery"))
        out.add("dozor_ups_battery_replace_needed", device, replace_needed)
