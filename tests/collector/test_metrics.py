"""``/metrics`` emits exactly what ``collector.metrics.specs.SPECS`` declares, and passes promtool."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agent.schema.report import Battery, DiskIO, EncryptedVolume, LoggedInUser, Report, Temperature
from collector.agents.fleet import Fleet
from collector.metrics.exporters.discovery import DiscoveryCollector
from collector.metrics.exporters.fleet import FleetCollector
from collector.metrics.exporters.snmp import DeviceCollector
from collector.metrics.exporters.ssh import BackupCollector
from collector.metrics.instruments import CollectorMetrics
from collector.metrics.specs import SPEC, SPECS
from collector.sources.discovery.store import UnknownDevice
from collector.sources.discovery.view import DiscoveryView
from collector.sources.snmp.view import DeviceIdentity, DeviceView
from collector.sources.ssh.store import SshStatus
from collector.sources.ssh.view import BackupView
from tests import factories
from tests.collector.test_windows11 import ready_inventory
from tests.promtool import promtool

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
UNIT_SUFFIX = {"bytes": "_bytes", "seconds": "_seconds", "celsius": "_celsius", "ratio": "_ratio"}


def rich_report() -> Report:
    """An online host's report with every optional fact filled."""
    health = msgspec.structs.replace(
        factories.health(),
        load_1m=0.7,
        temperatures=[Temperature(sensor="coretemp", label="Package id 0", current_celsius=48.0)],
        battery=Battery(percent=87.0, power_plugged=True),
        users=[LoggedInUser(name="o.kovalenko")],
        disk_io=[
            DiskIO(device="nvme0n1", read_bytes=10**9, write_bytes=2 * 10**9, read_count=5, write_count=9)
        ],
    )
    inventory = ready_inventory()  # with the schema 2 facts Windows 11 readiness needs
    security = msgspec.structs.replace(
        inventory.security,
        disk_encryption=[EncryptedVolume(volume="C:", encrypted=True, method="XTS-AES-128")],
        ssh_enabled=False,
    )
    inventory = msgspec.structs.replace(inventory, security=security)
    disks = [msgspec.structs.replace(disk, smart_healthy=True) for disk in inventory.hardware.disks or ()]
    inventory = msgspec.structs.replace(
        inventory, hardware=msgspec.structs.replace(inventory.hardware, disks=disks)
    )
    security = msgspec.structs.replace(
        inventory.security,
        updates=msgspec.structs.replace(inventory.security.updates, last_installed_at=NOW),
    )
    inventory = msgspec.structs.replace(inventory, security=security)
    return msgspec.structs.replace(factories.report(machine=1, inv=inventory), health=health)


def full_registry() -> CollectorRegistry:
    """A registry whose fleet has every optional fact filled, plus one offline host."""
    fleet = Fleet()
    fleet.observe(1, rich_report(), NOW)
    fleet.observe(2, factories.report(machine=2), datetime(2026, 11, 1, tzinfo=UTC))
    registry = CollectorRegistry()
    metrics = CollectorMetrics(registry)
    metrics.reports_accepted.labels("health").inc()
    metrics.reports_rejected.labels("malformed_json").inc()
    metrics.enrollments.labels("enrolled").inc()
    metrics.change_events.labels("software", "added").inc()
    metrics.poll_runs_skipped.labels("snmp").inc()
    metrics.ingest_duration.observe(0.01)
    metrics.db_write_duration.observe(0.01)
    metrics.db_batch_size.observe(3)
    registry.register(FleetCollector(fleet, offline_after=300, clock=NOW.timestamp))
    registry.register(DeviceCollector(device_view()))
    registry.register(BackupCollector(backup_view()))
    registry.register(DiscoveryCollector(discovery_view()))
    return registry


def discovery_view(view: DiscoveryView | None = None) -> DiscoveryView:
    """A sweep that found an unknown HP on a switch port, then one that lacked CAP_NET_RAW
    (recorded into ``view``, or a new one)."""
    view = DiscoveryView() if view is None else view
    unknown = UnknownDevice(
        device_id=40,
        mac="3c:52:82:00:00:c8",
        ip="10.20.0.200",
        vendor="Hewlett Packard",
        switch="sw-hq-1",
        port="Gi0/7",
        vlan=20,
        last_seen_at=NOW,
    )
    view.record(at=NOW.timestamp(), sweep_seconds=0.8, error=None, unknown=(unknown,))
    view.record(
        at=NOW.timestamp() + 900,
        sweep_seconds=None,
        error=("no_cap_net_raw", "needs CAP_NET_RAW"),
        unknown=None,
    )
    return view


def backup_view(view: BackupView | None = None) -> BackupView:
    """A switch whose config changed once and whose backups then failed on a changed host key
    (recorded into ``view``, or a new one)."""
    view = BackupView() if view is None else view
    status = SshStatus(
        device_id=10,
        host_key_fingerprint="SHA256:old",
        host_key_recorded_at=NOW,
        pending_host_key_fingerprint=None,
        pending_host_key_seen_at=None,
        last_success_at=NOW,
        last_error_kind=None,
        last_error_message=None,
        last_error_at=None,
        versions=2,
        last_version_at=NOW,
        last_change_at=NOW,
    )
    view.record("sw-hq-1", status, changed=True, error_kind=None)
    mismatch = msgspec.structs.replace(
        status, pending_host_key_fingerprint="SHA256:new", last_error_kind="host_key_changed"
    )
    view.record("sw-hq-1", mismatch, changed=False, error_kind="host_key_changed")
    return view


def _interface(if_index: int, name: str, oper: str, grown: int = 0) -> dict:
    """An interface as ``collector.sources.snmp.poll.finish_interface`` makes it; ``grown``: how
    many octets (and errors, by 1 per 1000) its counters moved on since the first poll."""
    return {
        "if_index": if_index,
        "name": name,
        "descr": name,
        "alias": "",
        "type": 6,
        "mtu": 1500,
        "mac": "00:11:22:33:44:0" + str(if_index),
        "admin_status": "up",
        "oper_status": oper,
        "speed_bps": 1_000_000_000,
        "in_octets": 123_456_789 + grown,
        "out_octets": 98_765_432 + 2 * grown,
        "counter_bits": 64,
        "in_errors": 2 + grown // 1000,
        "out_errors": 1,
        "in_discards": 0,
        "out_discards": 0,
    }


def _supply(index: int, description: str, colour: str | None, percent: float | None) -> dict:
    """A supply as ``collector.sources.snmp.poll.finish_supplies`` makes it."""
    return {
        "device": 1,
        "supply": index,
        "description": description,
        "type": "toner",
        "class": "consumed",
        "unit": "percent",
        "colour": colour,
        "level": None if percent is None else int(percent),
        "max": 100,
        "percent": percent,
        "percent_reason": None if percent is not None else "unknown",
    }


def device_view(view: DeviceView | None = None) -> DeviceView:
    """A switch, a printer (one supply level unknown, one condition) and a UPS that answered, and
    a device that timed out twice (recorded into ``view``, or a new one)."""
    view = DeviceView() if view is None else view
    at = NOW.timestamp()
    common = {"at": at, "part_errors": {}}
    for grown, seconds_ago in ((0, 60), (3000, 0)):
        view.record_success(
            10,
            DeviceIdentity("10.0.0.2", "sw-hq-1", "switch", "Room 101", "HQ"),
            facts={
                "system": {"name": "sw-hq-1", "uptime_ticks": 100_000 - seconds_ago * 100},
                "lldp": [{"local_port_name": "ge1", "remote_sys_name": "sw-core"}],
                "interfaces": [_interface(1, "ge1", "up", grown), _interface(2, "ge2", "down", grown)],
            },
            at=at - seconds_ago,
            part_errors={},
        )
    view.record_success(
        11,
        DeviceIdentity("10.0.0.3", "prn-hq-1", "printer", "Room 101", "HQ"),
        facts={
            "system": {"name": "prn-hq-1"},
            "supplies": [_supply(1, "Black Toner", "black", 45.0), _supply(2, "Drum Unit", None, None)],
            "printer": {
                "device": 1,
                "model": "HL-L5100DN",
                "serial": "E7",
                "status": "idle",
                "device_status": "warning",
                "conditions": ["low_toner"],
                "page_count": 12034,
            },
        },
        supply_empty_at={"Black Toner": at + 30 * 86_400},
        **common,
    )
    view.record_success(
        12,
        DeviceIdentity("10.0.0.4", "ups-hq-1", "ups", "Room 101", "HQ"),
        facts={
            "system": {"name": "ups-hq-1"},
            "ups": {
                "battery_status": "normal",
                "seconds_on_battery": 0,
                "runtime_minutes": 42,
                "charge_percent": 100,
                "battery_voltage": 27.1,
                "input_voltage": 230,
                "output_source": "normal",
                "output_voltage": 230,
                "load_percent": 18,
                "on_battery": False,
                "replace_battery": "yes",
            },
        },
        **common,
    )
    for _ in range(2):
        view.record_failure(
            13,
            DeviceIdentity("10.0.0.5", "10.0.0.5", "other"),
            at=at,
            error_kind="timeout",
            error_message="No SNMP response received before timeout",
        )
    return view


def exposition_name(family_name: str, family_type: str) -> str:
    return f"{family_name}_total" if family_type == "counter" else family_name


def test_spec_names_follow_conventions() -> None:
    for spec in SPECS:
        assert spec.name.startswith("dozor_"), spec.name
        assert spec.help.endswith("."), spec.name
        assert (spec.type == "counter") == spec.name.endswith("_total"), spec.name
        if spec.unit:
            stem = spec.name.removesuffix("_total")
            assert stem.endswith(UNIT_SUFFIX[spec.unit]), f"{spec.name} should end with its unit {spec.unit}"
    assert len(SPEC) == len(SPECS), "a metric is declared twice"


def test_emitted_metrics_match_declarations() -> None:
    text = generate_latest(full_registry()).decode()
    emitted = set()
    for family in text_string_to_metric_families(text):
        name = exposition_name(family.name, family.type)
        assert name in SPEC, f"{name} is emitted but not declared in collector.metrics.specs.SPECS"
        spec = SPEC[name]
        assert family.type == spec.type, name
        for sample in family.samples:
            labels = set(sample.labels) - {"le"}
            assert labels == set(spec.labels), f"{sample.name}: labels {labels} != declared {spec.labels}"
        emitted.add(name)
    assert emitted == set(SPEC), f"declared but never emitted: {sorted(set(SPEC) - emitted)}"


def test_fleet_liveness_and_values() -> None:
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(generate_latest(full_registry()).decode())
        for sample in family.samples
    }
    assert samples[("dozor_fleet_hosts", (("state", "online"),))] == 1
    assert samples[("dozor_fleet_hosts", (("state", "offline"),))] == 1
    host1 = (("host", "OBLRADA-PC0001"), ("host_id", "1"))
    assert samples[("dozor_host_up", host1)] == 1
    assert samples[("dozor_host_cpu_usage_ratio", host1)] == pytest.approx(0.125)
    assert samples[("dozor_host_firewall_enabled", (*host1, ("profile", "public")))] == 1


def test_promtool_check_metrics_passes() -> None:
    result = promtool("check", "metrics", stdin=generate_latest(full_registry()).decode())
    assert result.returncode == 0, result.stdout + result.stderr


def test_device_values() -> None:
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(generate_latest(full_registry()).decode())
        for sample in family.samples
    }
    printer = (("device", "prn-hq-1"), ("device_id", "11"))
    black = (("colour", "black"), *printer, ("supply", "Black Toner"))
    assert samples[("dozor_printer_supply_level_ratio", black)] == 0.45
    assert not any(
        name == "dozor_printer_supply_level_ratio" and ("supply", "Drum Unit") in labels
        for name, labels in samples
    ), "an unknown level is not a ratio"
    assert samples[("dozor_printer_condition", (("condition", "low_toner"), *printer))] == 1
    ups = (("device", "ups-hq-1"), ("device_id", "12"))
    assert samples[("dozor_ups_runtime_remaining_seconds", ups)] == 42 * 60
    assert samples[("dozor_ups_battery_charge_ratio", ups)] == 1.0
    assert samples[("dozor_ups_battery_replace_needed", ups)] == 1
    dead = (("device", "10.0.0.5"), ("device_id", "13"))
    assert samples[("dozor_device_up", (*dead, ("kind", "other")))] == 0
    assert samples[("dozor_device_poll_errors_total", (*dead, ("error", "timeout"), ("kind", "other")))] == 2
    switch = (("device", "sw-hq-1"), ("device_id", "10"))
    assert samples[("dozor_interface_up", (*switch, ("if_index", "2"), ("interface", "ge2")))] == 0
    info = (("address", "10.0.0.2"), *switch, ("group", "HQ"), ("kind", "switch"), ("location", "Room 101"))
    assert samples[("dozor_device_info", info)] == 1
    ge1 = (*switch, ("if_index", "1"), ("interface", "ge1"))
    assert samples[("dozor_interface_uplink", ge1)] == 1
    ge2 = (*switch, ("if_index", "2"), ("interface", "ge2"))
    assert ("dozor_interface_uplink", ge2) not in samples, "only ports with a neighbour"
    assert samples[("dozor_interface_errors_total", ge1)] == 3, "counted since the first poll"
    assert samples[("dozor_interface_receive_bytes_total", ge1)] == 3000
    assert samples[("dozor_interface_transmit_bytes_total", ge1)] == 6000
    assert samples[("dozor_printer_supply_empty_timestamp_seconds", black)] == NOW.timestamp() + 30 * 86_400
    assert samples[("dozor_device_ssh_host_key_mismatch", switch)] == 1
    assert samples[("dozor_device_config_changes_total", switch)] == 1
    assert samples[("dozor_device_config_last_change_timestamp_seconds", switch)] == NOW.timestamp()
    assert samples[("dozor_device_backup_errors_total", (*switch, ("error", "host_key_changed")))] == 1
    assert samples[("dozor_discovery_unknown_devices", ())] == 1
    unknown = (("device_id", "40"), ("mac", "3c:52:82:00:00:c8"), ("port", "Gi0/7"), ("switch", "sw-hq-1"),
               ("vendor", "Hewlett Packard"), ("vlan", "20"))  # fmt: skip
    assert samples[("dozor_discovery_unknown_device_info", unknown)] == 1
    assert samples[("dozor_discovery_errors_total", (("error", "no_cap_net_raw"),))] == 1
    assert samples[("dozor_discovery_last_success_timestamp_seconds", ())] == NOW.timestamp()
    assert samples[("dozor_discovery_sweep_duration_seconds", ())] == 0.8
