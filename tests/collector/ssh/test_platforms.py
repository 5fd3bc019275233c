"""platforms.yaml: every platform names a real netmiko driver, real ntc-templates, valid regexes."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from netmiko.ssh_dispatcher import CLASS_MAPPER
from ntc_templates.parse import parse_output

from collector.sources.ssh.platforms import load_platforms, platform, platforms

PLATFORMS = sorted(platforms())


def test_every_platform_of_the_recordings_is_known() -> None:
    assert set(PLATFORMS) >= {
        "cisco_ios", "hp_procurve", "hp_comware", "huawei_vrp",
        "mikrotik_routeros", "dlink_ds", "eltex", "zyxel_os",
    }  # fmt: skip


@pytest.mark.parametrize("name", PLATFORMS)
def test_platform_names_a_netmiko_driver_and_parsers(name: str) -> None:
    spec = platform(name)
    assert spec.device_type in CLASS_MAPPER
    assert spec.polled_commands, "a platform without fact commands"
    for command in spec.commands:
        if command.template is None:
            # ntc-templates has a template for the command: empty output parses to no rows.
            assert parse_output(platform=spec.ntc_platform, command=command.command, data="") == []


def test_unknown_platform_is_a_named_error() -> None:
    with pytest.raises(KeyError, match="unknown CLI platform 'junos'"):
        platform("junos")


def test_a_secret_rule_without_a_group_fails_at_load(tmp_path: Path) -> None:
    text = Path(__file__).parents[3].joinpath("collector/sources/ssh/platforms.yaml").read_text()
    bad = text.replace(r"'^\s*create snmp community (\S+)'", r"'^\s*create snmp community \S+'")
    assert bad != text
    (tmp_path / "platforms.yaml").write_text(bad)
    with pytest.raises(msgspec.ValidationError, match=r"dlink_ds: secret rule .* has no group"):
        load_platforms(tmp_path / "platforms.yaml")
