"""``/metrics`` emits exactly what ``collector.metrics.SPECS`` declares, and passes promtool."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agent.schema.report import Battery, DiskIO, EncryptedVolume, LoggedInUser, Temperature
from collector.fleet import Fleet
from collector.metrics import SPEC, SPECS, CollectorMetrics, FleetCollector
from tests import factories
from tests.promtool import promtool

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
UNIT_SUFFIX = {"bytes": "_bytes", "seconds": "_seconds", "celsius": "_celsius", "ratio": "_ratio"}


def full_registry() -> CollectorRegistry:
    """A registry whose fleet has every optional fact filled, plus one offline host."""
    fleet = Fleet()
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
    inventory = factories.inventory()
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
    online = msgspec.structs.replace(factories.report(machine=1, inv=inventory), health=health)
    fleet.observe(1, online, NOW)
    fleet.observe(2, factories.report(machine=2), datetime(2026, 11, 1, tzinfo=UTC))
    registry = CollectorRegistry()
    metrics = CollectorMetrics(registry)
    metrics.reports_accepted.labels("health").inc()
    metrics.reports_rejected.labels("malformed_json").inc()
    metrics.enrollments.labels("enrolled").inc()
    metrics.change_events.labels("software", "added").inc()
    metrics.ingest_duration.observe(0.01)
    metrics.db_write_duration.observe(0.01)
    metrics.db_batch_size.observe(3)
    registry.register(FleetCollector(fleet, offline_after=300, clock=NOW.timestamp))
    return registry


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
        assert name in SPEC, f"{name} is emitted but not declared in collector.metrics.SPECS"
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
