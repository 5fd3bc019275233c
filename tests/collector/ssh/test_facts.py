"""CLI outputs → facts: every recording of ../shared and every case of ours parses as expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from collector.sources.ssh.errors import CliError, ParseError
from collector.sources.ssh.facts import FIELDS, merge_version, normalize_mac, parse_facts, parse_records
from collector.sources.ssh.platforms import platform
from tests.collector.ssh.conftest import DEVICES
from tests.conftest import SHARED_TESTDATA

OWN_CASES = sorted(p.parent.relative_to(DEVICES).as_posix() for p in DEVICES.glob("*/*/expected.json"))
SHARED_CASES = sorted(
    p.relative_to(SHARED_TESTDATA / "cli").as_posix() for p in (SHARED_TESTDATA / "cli").glob("*/*/*.raw")
)


def _command(platform_name: str, folder: str) -> str:
    """The platform's command whose spelling is the recording's folder name."""
    spec = platform(platform_name)
    matches = [c.command for c in spec.commands if c.command.lstrip("/").replace(" ", "_") == folder]
    assert matches, f"{platform_name} has no command for recordings in {folder}/"
    return matches[0]


@pytest.mark.parametrize("case", OWN_CASES)
def test_own_case_parses_to_expected_records(case: str) -> None:
    platform_name, folder = case.split("/")
    expected = json.loads((DEVICES / case / "expected.json").read_text())
    facts = parse_facts(
        platform_name, _command(platform_name, folder), (DEVICES / case / "output.txt").read_text()
    )
    assert facts.kind == expected["kind"]
    assert facts.records == expected["records"]


@pytest.mark.parametrize("case", SHARED_CASES or ["(none)"])
def test_recording_parses_like_ntc_templates_expects(shared_testdata: Path, case: str) -> None:
    raw = shared_testdata / "cli" / case
    platform_name, folder, _ = case.split("/")
    command = platform(platform_name).command(_command(platform_name, folder))
    expected = yaml.safe_load(raw.with_suffix(".yml").read_text())["parsed_sample"]
    output = raw.read_text()
    assert parse_records(platform_name, command, output) == expected
    facts = parse_facts(platform_name, command.command, output)
    assert facts.records, "a recording with rows must give facts"
    for record in facts.records:
        assert set(record) == set(FIELDS[facts.kind])
        for name in ("mac",):
            if name in record:
                assert record[name] == normalize_mac(record[name])
    # Every ntc record whose address fields are usable becomes one of ours, in order.
    address_field = {"mac_table": "mac", "arp": "ip"}.get(facts.kind)
    if address_field is None:
        assert len(facts.records) == len(expected) or facts.kind == "version"


def test_procurve_mac_table_maps_to_our_vocabulary(shared_testdata: Path) -> None:
    raw = (shared_testdata / "cli/hp_procurve/show_mac-address/hp_procurve_show_mac-address.raw").read_text()
    facts = parse_facts("hp_procurve", "show mac-address", raw)
    assert facts.kind == "mac_table"
    assert facts.records[0] == {"mac": "50:00:00:26:00:00", "vlan": 17, "port": "Trk1"}


def test_version_merges_over_commands() -> None:
    comware_version = parse_facts(
        "hp_comware", "display version", (DEVICES / "hp_comware/display_version/output.txt").read_text()
    )
    manuinfo = parse_facts(
        "hp_comware",
        "display device manuinfo",
        "Slot 1 CPU 0:\nDEVICE_NAME          : 5130-24G-4SFP+ EI JG932A\nDEVICE_SERIAL_NUMBER : CN12AB34CD\n"
        "MAC_ADDRESS          : 9C8E-9911-2233\nMANUFACTURING_DATE   : 2017-01-10\n"
        "VENDOR_NAME          : HPE\n",
    )
    merged = merge_version([comware_version, manuinfo])
    assert merged == {
        "hostname": None, "model": "5130-24G-4SFP+ EI Switch", "serial": "CN12AB34CD", "version": "7.1.045",
        "firmware": "2432P06",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "command", "output", "kind"),
    [
        ("cisco_ios", "show version", "\x00\x13\x88garbage\x01\x02" * 30, "garbage_output"),
        ("cisco_ios", "show version", "hello world\nnothing like a version\n", "garbage_output"),
        ("hp_procurve", "show mac-address", "lorem ipsum dolor\nsit amet 12 34\n",
         "garbage_output"),
        ("dlink_ds", "show fdb", "VID  VLAN Name  MAC Address  Port  Type\n1 default 00-1E-58-A1-B2 CPU\n",
         "garbage_output"),
        ("cisco_ios", "show ip arp", "                ^\n% Invalid input detected at '^' marker.\n",
         "command_rejected"),
        ("huawei_vrp", "display mac-address", "MAC address table of slot 0:\n  ---- More ----",
         "pager_left_on"),
    ],
)  # fmt: skip
def test_bad_output_is_a_named_error(name: str, command: str, output: str, kind: str) -> None:
    with pytest.raises(CliError) as caught:
        parse_facts(name, command, output)
    assert caught.value.kind == kind
    if kind == "garbage_output":
        assert isinstance(caught.value, ParseError)


def test_truncated_table_is_a_named_error() -> None:
    text = (DEVICES / "dlink_ds/show_fdb/output.txt").read_text()
    cut = text[: text.index("A4-BA-DB") + 5]
    with pytest.raises(ParseError):
        parse_facts("dlink_ds", "show fdb", cut)


@pytest.mark.parametrize(
    ("text", "mac"),
    [
        ("0011.22AA.bbcc", "00:11:22:aa:bb:cc"),
        ("00-11-22-AA-BB-CC", "00:11:22:aa:bb:cc"),
        ("001122-aabbcc", "00:11:22:aa:bb:cc"),
        ("00:11:22:aa:bb:cc", "00:11:22:aa:bb:cc"),
        ("Incomplete", None),
        ("00:11:22:aa:bb", None),
    ],
)
def test_normalize_mac(text: str, mac: str | None) -> None:
    assert normalize_mac(text) == mac
