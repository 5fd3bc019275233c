"""The one diff path, on plain documents: what is a change, what is not, and how it reads."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from agent.schema.report import SoftwarePackage
from collector.inventory import AGENT_RULES, Change, ListRule, Rules, diff_facts, reconcile
from tests import factories


def document(**options: Any) -> dict[str, Any]:
    return msgspec.to_builtins(factories.inventory(**options))


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    return diff_facts(old, new, AGENT_RULES)


def only(changes: list[Change]) -> Change:
    assert len(changes) == 1, [change.summary for change in changes]
    return changes[0]


FIREFOX = {"name": "Mozilla Firefox", "source": "registry", "version": "118.0.2", "architecture": "x64"}


def with_software(*packages: dict[str, Any]) -> dict[str, Any]:
    facts = document(package_count=3)
    facts["software"] += [dict(package) for package in packages]
    return facts


def test_identical_documents_have_no_changes() -> None:
    assert diff(document(), document()) == []


def test_first_inventory_is_one_event_not_a_flood() -> None:
    facts = document(package_count=300)
    merged, changes = reconcile(None, facts, AGENT_RULES)
    assert merged == facts
    assert changes == [Change("system", "added", "inventory", None, None, "Inventory first received")]


def test_package_update_is_one_changed_event() -> None:
    change = only(diff(with_software(FIREFOX), with_software({**FIREFOX, "version": "119.0"})))
    assert (change.category, change.kind) == ("software", "changed")
    assert change.subject == "software[Mozilla Firefox (registry, x64)]"
    assert change.summary == "Software Mozilla Firefox updated 118.0.2 → 119.0"
    assert change.old["version"] == "118.0.2" and change.new["version"] == "119.0"


def test_package_downgrade_says_so() -> None:
    change = only(diff(with_software(FIREFOX), with_software({**FIREFOX, "version": "99.1"})))
    assert change.summary == "Software Mozilla Firefox downgraded 118.0.2 → 99.1"


def test_package_install_and_removal() -> None:
    installed = only(diff(with_software(), with_software(FIREFOX)))
    assert (installed.kind, installed.old, installed.new) == ("added", None, FIREFOX)
    assert installed.summary == "Software Mozilla Firefox installed: 118.0.2"
    removed = only(diff(with_software(FIREFOX), with_software()))
    assert (removed.kind, removed.old, removed.new) == ("removed", FIREFOX, None)
    assert removed.summary == "Software Mozilla Firefox removed: 118.0.2"


def test_same_package_for_two_architectures_is_two_items() -> None:
    x86 = {**FIREFOX, "architecture": "x86", "source": "registry_wow64"}
    change = only(diff(with_software(FIREFOX, x86), with_software(FIREFOX, {**x86, "version": "119.0"})))
    assert change.subject == "software[Mozilla Firefox (registry_wow64, x86)]"


def test_package_listed_twice_with_same_key() -> None:
    """Windows lists some packages twice under one name; identical entries pair up first."""
    second = {**FIREFOX, "version": "115.0esr"}
    old = with_software(FIREFOX, second)
    assert diff(old, with_software(second, FIREFOX)) == []
    change = only(diff(old, with_software(FIREFOX)))
    assert (change.kind, change.old) == ("removed", second)


def test_ram_module_replaced_shows_both_modules() -> None:
    old = document(modules=(("DIMM_A1", 8, "M471A1K43DB1"), ("DIMM_B1", 8, "M471A1K43DB1")))
    new = copy.deepcopy(old)
    new["hardware"]["memory"]["modules"][0].update(
        size_bytes=16 * 2**30, manufacturer="Kingston", part_number="KF432C16BB1/16"
    )
    new["hardware"]["memory"]["total_bytes"] = 24 * 2**30
    by_subject = {change.subject: change for change in diff(old, new)}
    module = by_subject["hardware.memory.modules[DIMM_A1]"]
    assert (module.category, module.kind) == ("hardware", "changed")
    assert module.summary == (
        "RAM module DIMM_A1 replaced: 8 GiB Samsung M471A1K43DB1 → 16 GiB Kingston KF432C16BB1/16"
    )
    assert module.old["manufacturer"] == "Samsung" and module.new["manufacturer"] == "Kingston"
    assert by_subject["hardware.memory.total_bytes"].summary == "Total RAM changed: 16 GiB → 24 GiB"
    assert len(by_subject) == 2


def test_disk_added_keyed_by_serial() -> None:
    old = document()
    new = copy.deepcopy(old)
    disk = {"name": "\\\\.\\PHYSICALDRIVE1", "size_bytes": 2**40, "model": "WDC WD10EZEX", "serial": "WD-1"}
    new["hardware"]["disks"].append(disk)
    change = only(diff(old, new))
    assert (change.category, change.kind, change.subject) == ("hardware", "added", "hardware.disks[WD-1]")
    assert change.new == disk
    assert change.summary == "Disk WD-1 added: 1 TiB WDC WD10EZEX \\\\.\\PHYSICALDRIVE1"


def test_disk_renamed_by_the_os_is_the_same_disk() -> None:
    old = document()
    new = copy.deepcopy(old)
    new["hardware"]["disks"][0]["name"] = "\\\\.\\PHYSICALDRIVE1"
    change = only(diff(old, new))
    assert change.kind == "changed"
    assert change.summary.startswith("Disk S40000000001 changed: name ")


def test_monitor_without_serial_falls_back_to_its_model() -> None:
    old = document()
    new = copy.deepcopy(old)
    new["hardware"]["monitors"] = [{"manufacturer": "DEL", "model": "U2419H"}, {"week_of_manufacture": 3}]
    assert sorted(change.subject for change in diff(old, new)) == [
        "hardware.monitors[DEL (U2419H)]",
        'hardware.monitors[{"week_of_manufacture":3}]',  # nothing to key it by: matched only if identical
    ]


def test_firewall_profile_turned_off() -> None:
    old = document()
    new = copy.deepcopy(old)
    new["security"]["firewall"][2]["enabled"] = False
    change = only(diff(old, new))
    assert (change.category, change.kind, change.subject) == (
        "security",
        "changed",
        "security.firewall[public]",
    )
    assert change.summary == "Firewall profile public turned off"
    assert change.old["enabled"] is True and change.new["enabled"] is False


def test_antivirus_disabled_and_out_of_date_in_one_event() -> None:
    old = document()
    new = copy.deepcopy(old)
    new["security"]["antivirus"][0].update(enabled=False, up_to_date=False, signature_age_days=9.0)
    change = only(diff(old, new))
    assert change.subject == "security.antivirus[Windows Defender]"
    assert change.summary == (
        "Antivirus Windows Defender disabled; Antivirus Windows Defender signatures out of date"
    )


@pytest.mark.parametrize(
    ("path", "old_value", "new_value", "summary"),
    [
        ("rdp_enabled", False, True, "Remote Desktop (RDP) turned on"),
        ("smb1_enabled", False, True, "SMBv1 turned on"),
        ("guest_enabled", False, True, "Guest account enabled"),
        ("uac_enabled", True, False, "User Account Control turned off"),
        ("secure_boot", True, False, "Secure Boot turned off"),
    ],
)
def test_security_switches_read_as_on_and_off(
    path: str, old_value: bool, new_value: bool, summary: str
) -> None:
    old = document()
    new = copy.deepcopy(old)
    old["security"][path], new["security"][path] = old_value, new_value
    change = only(diff(old, new))
    assert (change.category, change.subject, change.summary) == ("security", f"security.{path}", summary)


def test_local_admin_added_and_encryption_turned_off() -> None:
    old = document()
    old["security"]["disk_encryption"] = [{"volume": "C:", "encrypted": True, "method": "XTS-AES 128"}]
    new = copy.deepcopy(old)
    new["security"]["local_admins"].append("OBLRADA\\intern")
    new["security"]["disk_encryption"][0]["encrypted"] = False
    summaries = {change.subject: change.summary for change in diff(old, new)}
    assert summaries == {
        "security.local_admins[OBLRADA\\intern]": "Local administrator OBLRADA\\intern added",
        "security.disk_encryption[C:]": "Encryption of volume C: turned off",
    }


def test_os_upgrade_is_a_system_change() -> None:
    old = document()
    new = copy.deepcopy(old)
    new["hardware"]["os"].update(name="Microsoft Windows 11 Pro", version="10.0.22631")
    changes = {change.subject: change for change in diff(old, new)}
    assert (
        changes["hardware.os.version"].summary == "Operating system version changed: 10.0.19045 → 10.0.22631"
    )
    assert {change.category for change in changes.values()} == {"system"}


def test_unknown_sections_and_fields_keep_the_old_value_silently() -> None:
    old = document()
    new = copy.deepcopy(old)
    new["software"] = None
    del new["hotfixes"]
    new["hardware"]["cpu"] = None
    new["hardware"]["disks"] = None
    del new["security"]["antivirus"][0]["enabled"]  # absent == None: the field was not collected
    new["security"]["rdp_enabled"] = None
    new["hardware"]["memory"]["modules"] = []  # no DMI access this time: unknown, not "removed"
    merged, changes = reconcile(old, new, AGENT_RULES)
    assert changes == []
    assert merged == old


def test_learning_an_unknown_value_is_not_a_change() -> None:
    old = document()
    new = copy.deepcopy(old)
    del old["security"]["antivirus"]
    old["hardware"]["cpu"] = None
    merged, changes = reconcile(old, new, AGENT_RULES)
    assert changes == []
    assert merged == new


def test_volatile_paths_are_taken_without_events() -> None:
    old = document()
    new = copy.deepcopy(old)
    new["security"]["antivirus"][0]["signature_age_days"] = 3.0
    new["security"]["updates"]["pending_count"] = 40
    new["hardware"]["network_interfaces"][0]["addresses"] = ["10.20.0.99"]
    new["hardware"]["system"]["hostname"] = "RENAMED"  # the report's hostname carries that event
    merged, changes = reconcile(old, new, AGENT_RULES)
    assert changes == []
    assert merged == new


def test_changes_come_from_the_report_structs_as_sent() -> None:
    """From the contract types: a field left at its default (None, so omitted) is "unknown"."""
    old = factories.inventory(package_count=5)
    packages = factories.packages(5)
    updated = SoftwarePackage(
        name=packages[0].name, source=packages[0].source, version="9.9", architecture="x86"
    )
    new = msgspec.structs.replace(
        old, software=[updated, *packages[1:4], SoftwarePackage("7-Zip", "registry")]
    )
    merged, changes = reconcile(msgspec.to_builtins(old), msgspec.to_builtins(new), AGENT_RULES)
    assert sorted(change.summary for change in changes) == [
        "Software 7-Zip installed",
        "Software Package 0000 Microsoft updated 0.0.0 → 9.9",
        "Software Package 0004 ІІТ removed: 4.4.4",
    ]
    assert merged["software"][0]["publisher"] == "Microsoft Corporation"  # not sent: kept


def test_rules_are_data_for_other_sources() -> None:
    """A switch polled over SNMP: ports keyed by index, a renamed port is one change."""
    rules = Rules(
        lists={"ports": ListRule("Port", key=(("index",),), describe=("name",))},
        categories={"ports": "hardware", "firmware": "system"},
        ignore=frozenset({"uptime_seconds"}),
    )
    old = {"firmware": "1.0", "uptime_seconds": 5, "ports": [{"index": 1, "name": "uplink"}]}
    new = {"firmware": "1.1", "uptime_seconds": 9, "ports": [{"index": 1, "name": "core"}]}
    assert [(change.category, change.subject, change.summary) for change in diff_facts(old, new, rules)] == [
        ("system", "firmware", "Firmware changed: 1.0 → 1.1"),
        ("hardware", "ports[1]", "Port 1 changed: name uplink → core"),
    ]
