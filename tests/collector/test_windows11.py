"""Windows 11 readiness from the agent's facts: each requirement met, failed or unknown, the CPU
table read as data, and what the host API and /metrics say of it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent.schema.report import Cpu, Hardware, Inventory, Security, SystemInfo, Tpm
from collector.agents.windows11 import assess, cpu_supported, cpu_table
from tests import factories
from tests.collector.live_server import make_config, run_collector
from tests.collector.test_api_bad_input import enroll, post

AFTER_EOS = date(2026, 12, 4)
COMET_LAKE = Cpu(
    model="Intel(R) Core(TM) i5-10500", vendor="GenuineIntel", family=6, model_number=165, stepping=5
)


def ready_inventory(**hardware_changes: object) -> Inventory:
    """The factories' Windows 10 PC, with every v2 fact that makes it ready for Windows 11."""
    inventory = factories.inventory()
    system = msgspec.structs.replace(
        inventory.hardware.system or SystemInfo(hostname="x"), firmware_type="uefi"
    )
    hardware = msgspec.structs.replace(
        inventory.hardware,
        system=system,
        cpu=COMET_LAKE,
        tpm=Tpm(present=True, version="2.0", enabled=True, activated=True),
    )
    hardware = msgspec.structs.replace(hardware, **hardware_changes)
    security = msgspec.structs.replace(inventory.security, secure_boot=True)
    return msgspec.structs.replace(inventory, hardware=hardware, security=security)


def readiness(inventory: Inventory, today: date = AFTER_EOS) -> tuple[str, list[str], list[str], bool]:
    found = assess(inventory.hardware, inventory.security, today)
    return found.status, found.failing, found.unknown, found.windows10_end_of_support


def test_a_modern_windows10_pc_is_ready_and_past_end_of_support() -> None:
    assert readiness(ready_inventory()) == ("ready", [], [], True)
    assert readiness(ready_inventory(), date(2025, 10, 13))[3] is False


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        ({"tpm": Tpm(present=True, version="1.2", enabled=True)}, ["tpm"]),
        ({"tpm": Tpm(present=False)}, ["tpm"]),
        ({"tpm": Tpm(present=True, version="2.0", enabled=False)}, ["tpm"]),
        ({"system": SystemInfo(hostname="x", firmware_type="bios")}, ["uefi"]),
        (
            {"cpu": Cpu(model="i5-7500", vendor="GenuineIntel", family=6, model_number=158, stepping=9)},
            ["cpu"],
        ),
        ({"cpu": Cpu(model="Ryzen 5 2500U", vendor="AuthenticAMD", family=23, model_number=17)}, ["cpu"]),
        (
            {
                "disks": [
                    msgspec.structs.replace(factories.inventory().hardware.disks[0], size_bytes=32 * 10**9)
                ]
            },
            ["disk"],
        ),
    ],
    ids=["tpm-1.2", "no-tpm", "tpm-off", "legacy-bios", "kaby-lake-7th-gen", "raven-ridge-zen1", "32gb-disk"],
)
def test_each_failing_requirement_is_named(change: dict[str, object], failing: list[str]) -> None:
    status, found_failing, unknown, _ = readiness(ready_inventory(**change))
    assert (status, found_failing, unknown) == ("not_ready", failing, [])


def test_secure_boot_off_and_small_memory_fail() -> None:
    inventory = ready_inventory()
    memory = msgspec.structs.replace(inventory.hardware.memory, total_bytes=2 * 1024**3, modules=[])
    inventory = msgspec.structs.replace(
        inventory,
        hardware=msgspec.structs.replace(inventory.hardware, memory=memory),
        security=msgspec.structs.replace(inventory.security, secure_boot=False),
    )
    assert readiness(inventory)[:2] == ("not_ready", ["secure_boot", "ram"])


def test_four_gigabytes_as_the_os_reports_them_are_enough() -> None:
    inventory = ready_inventory()
    memory = msgspec.structs.replace(inventory.hardware.memory, total_bytes=4_182_654_976, modules=[])
    inventory = msgspec.structs.replace(
        inventory, hardware=msgspec.structs.replace(inventory.hardware, memory=memory)
    )
    assert readiness(inventory)[0] == "ready"


def test_a_schema_1_report_is_unknown_not_ready() -> None:
    """An old agent sends no TPM, firmware type or CPU signature: unknown, never "ready"."""
    status, failing, unknown, past_support = readiness(factories.inventory())
    assert (status, failing) == ("unknown", [])
    assert unknown == ["tpm", "uefi", "cpu"]
    assert past_support


def test_windows11_linux_server_and_ltsc() -> None:
    inventory = ready_inventory()
    os_ = inventory.hardware.os
    for name, family, status in (
        ("Microsoft Windows 11 Pro", "windows", "windows11"),
        ("Debian GNU/Linux 12 (bookworm)", "linux", "not_applicable"),
        ("Microsoft Windows Server 2019 Standard", "windows", "not_applicable"),
    ):
        changed = ready_inventory(os=msgspec.structs.replace(os_, name=name, family=family))
        assert readiness(changed)[0] == status, name
    ltsc = ready_inventory(os=msgspec.structs.replace(os_, edition="EnterpriseS"))
    assert readiness(ltsc)[3] is False, "Windows 10 LTSC is supported past October 2025"


def test_the_cpu_table_is_data_with_its_source() -> None:
    table = cpu_table()
    assert "Microsoft" in table.source
    assert cpu_supported(Cpu(model="x", vendor="AuthenticAMD", family=25, model_number=33)) is True
    assert (
        cpu_supported(Cpu(model="x", vendor="GenuineIntel", family=6, model_number=142, stepping=10)) is True
    )
    assert (
        cpu_supported(Cpu(model="x", vendor="GenuineIntel", family=6, model_number=142, stepping=9)) is False
    )
    assert cpu_supported(Cpu(model="x", vendor="GenuineIntel", family=6, model_number=142)) is None
    assert cpu_supported(Cpu(model="x")) is None


def test_host_api_and_metrics_show_readiness(tmp_path: Path) -> None:
    with run_collector(make_config(tmp_path, f"sqlite:///{tmp_path / 'dozor.db'}")) as live:
        ready_token, old_token = enroll(live, 1), enroll(live, 2)
        not_ready = ready_inventory(tpm=Tpm(present=True, version="1.2"))
        reports = (
            (ready_token, factories.report(machine=1, seq=1, inv=ready_inventory())),
            (old_token, factories.report(machine=2, seq=1, inv=not_ready)),
        )
        for token, report in reports:
            report = msgspec.structs.replace(report, hostname=f"PC-{token[:4]}")
            assert post(live, token, factories.encode(report)).status_code == 200
        hosts = {host["id"]: host for host in live.admin().get("/api/v1/hosts").json()}
        first = live.admin().get(f"/api/v1/hosts/{min(hosts)}").json()["windows11"]
        second = live.admin().get(f"/api/v1/hosts/{max(hosts)}").json()["windows11"]
        assert first == {"status": "ready", "failing": [], "unknown": [], "windows10_end_of_support": True}
        assert (second["status"], second["failing"]) == ("not_ready", ["tpm"])
        metrics = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(live.client().get("/metrics").text)
            for sample in family.samples
        }
    ready = sorted(value for (name, _), value in metrics.items() if name == "dozor_host_windows11_ready")
    assert ready == [0.0, 1.0]
    assert metrics[("dozor_fleet_windows11_blockers", (("requirement", "tpm"),))] == 1
    assert metrics[("dozor_fleet_windows11_blockers", (("requirement", "cpu"),))] == 0
    past = [value for (name, _), value in metrics.items() if name == "dozor_host_windows10_end_of_support"]
    assert past == [1.0, 1.0]


def test_security_struct_default_is_unknown_secure_boot() -> None:
    assert Security().secure_boot is None
    assert assess(Hardware(), None, AFTER_EOS).status == "unknown"
