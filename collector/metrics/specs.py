"""Every metric Dozor exports, declared once (name, type, unit, help, labels): a test checks that
what ``/metrics`` emits matches these declarations, and every instrument and exporter is created
from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
    _host(
        "dozor_host_clone_conflict",
        "gauge",
        "",
        "1 if another live PC enrolled with this PC's machine id (both imaged from one master).",
    ),
    _host(
        "dozor_host_windows11_ready",
        "gauge",
        "",
        "Windows 10 PCs: 1 if every Windows 11 requirement is seen to hold, 0 if one fails "
        "(absent while a requirement is unknown).",
    ),
    _host(
        "dozor_host_windows10_end_of_support",
        "gauge",
        "",
        "1 if the PC runs Windows 10 (not LTSC) after its end of support, 14 October 2025.",
    ),
    _host(
        "dozor_host_pending_approval",
        "gauge",
        "",
        "1 if the PC enrolled under enrollment.require_approval and waits for an administrator's approval.",
    ),
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
    MetricSpec(
        "dozor_fleet_windows11_blockers",
        "gauge",
        "",
        "Windows 10 PCs failing a Windows 11 requirement (tpm, uefi, secure_boot, cpu, ram, disk), "
        "by requirement.",
        ("requirement",),
    ),
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
