"""inventory_hash: the same facts give the same hash, whatever order the probes listed them in."""

from __future__ import annotations

import re

from agent.runner import inventory_hash
from agent.schema.report import Disk, Hardware, Inventory, Security, SoftwarePackage, SystemInfo


def _inventory(packages: list[str], admins: list[str], disks: list[str]) -> Inventory:
    return Inventory(
        hardware=Hardware(
            system=SystemInfo(hostname="pc-01"),
            disks=[Disk(name=name, size_bytes=2**30) for name in disks],
        ),
        security=Security(local_admins=admins),
        software=[SoftwarePackage(name=name, source="dpkg", version="1.0") for name in packages],
    )


def test_the_hash_is_sha256_hex() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", inventory_hash(_inventory(["bash"], ["root"], ["sda"])))


def test_list_order_does_not_change_the_hash() -> None:
    one = _inventory(["bash", "zlib1g", "apt"], ["root", "ivanov"], ["sda", "nvme0n1"])
    other = _inventory(["apt", "bash", "zlib1g"], ["ivanov", "root"], ["nvme0n1", "sda"])
    assert inventory_hash(one) == inventory_hash(other)


def test_a_changed_fact_changes_the_hash() -> None:
    before = _inventory(["bash", "apt"], ["root"], ["sda"])
    assert inventory_hash(before) != inventory_hash(_inventory(["bash", "apt", "vim"], ["root"], ["sda"]))
    assert inventory_hash(before) != inventory_hash(_inventory(["bash", "apt"], ["root", "toor"], ["sda"]))


def test_not_collected_differs_from_empty() -> None:
    empty = _inventory([], ["root"], ["sda"])
    not_collected = Inventory(hardware=empty.hardware, security=empty.security)
    assert inventory_hash(empty) != inventory_hash(not_collected)
