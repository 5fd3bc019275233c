"""Configs: volatile lines ignored, secrets masked, digests and diffs; our fixtures and ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.sources.ssh.config_text import (
    MASK,
    check_config,
    config_diff,
    config_digest,
    mask_secrets,
    normalize_config,
)
from collector.sources.ssh.errors import ParseError
from tests.collector.ssh.conftest import DEVICES

OWN = sorted(p.name for p in DEVICES.iterdir() if (p / "running-config.txt").is_file())


def _secrets(folder: Path) -> list[str]:
    return (folder / "secrets.txt").read_text().split()


@pytest.mark.parametrize("name", OWN)
def test_own_config_masks_every_listed_secret(name: str) -> None:
    folder = DEVICES / name
    normalized = normalize_config(name, (folder / "running-config.txt").read_text())
    masked = mask_secrets(name, normalized)
    secrets = _secrets(folder)
    assert secrets and masked.count(MASK) >= len(secrets)
    for secret in secrets:
        assert secret in normalized
        assert secret not in masked
    # Masking keeps every line and the text around each secret.
    assert len(masked.splitlines()) == len(normalized.splitlines())
    check_config(name, normalized)


@pytest.mark.parametrize("name", OWN)
def test_own_config_volatile_lines_do_not_change_the_digest(name: str) -> None:
    text = (DEVICES / name / "running-config.txt").read_text()
    digest = config_digest(normalize_config(name, text))
    shifted = text.replace("14:02:11", "09:15:48").replace("36028790", "36028811")
    for old, new in (
        ("Mar 3 2025", "Apr 9 2026"),
        ("2025-03-03", "2026-04-09"),
        ("mar/03/2025", "apr/09/2026"),
    ):
        shifted = shifted.replace(old, new)
    crlf = shifted.replace("\n", "   \r\n")
    assert config_digest(normalize_config(name, crlf)) == digest
    changed = (
        text.replace("vlan 10", "vlan 20")
        .replace("vlan-id=10", "vlan-id=20")
        .replace("untagged 1-24", "untagged 1-23")
    )
    changed = changed.replace("name=bridge1", "name=bridge2")
    assert changed != text
    assert config_digest(normalize_config(name, changed)) != digest


def test_timestamp_lines_are_what_normalisation_drops() -> None:
    text = (DEVICES / "cisco_ios" / "running-config.txt").read_text()
    normalized = normalize_config("cisco_ios", text)
    assert "Last configuration change" not in normalized
    assert "ntp clock-period" not in normalized
    assert "Current configuration" not in normalized
    assert normalized.startswith("!\n!\nversion 15.2\n")
    assert "ntp server 10.10.0.1\nend\n" in normalized


def test_diff_masks_secrets_unless_raw_is_asked() -> None:
    old = normalize_config("cisco_ios", (DEVICES / "cisco_ios" / "running-config.txt").read_text())
    new = old.replace("RadaRO2024", "NewCommunity9").replace("ntp server 10.10.0.1", "ntp server 10.10.0.2")
    masked = config_diff(old, new, platform_name="cisco_ios", old_label="v1", new_label="v2")
    assert masked.startswith("--- v1\n+++ v2\n@@ ")
    assert f"-snmp-server community {MASK} RO\n+snmp-server community {MASK} RO\n" in masked
    assert "-ntp server 10.10.0.1\n+ntp server 10.10.0.2\n" in masked
    assert "RadaRO2024" not in masked and "NewCommunity9" not in masked
    assert "RadaRW2024" not in masked  # context lines are masked too
    raw = config_diff(old, new, platform_name="cisco_ios", raw=True)
    assert "-snmp-server community RadaRO2024 RO\n+snmp-server community NewCommunity9 RO\n" in raw
    assert config_diff(old, old, platform_name="cisco_ios") == ""


def test_mikrotik_section_rule_masks_only_snmp_community_names() -> None:
    masked = mask_secrets(
        "mikrotik_routeros", (DEVICES / "mikrotik_routeros" / "running-config.txt").read_text()
    )
    assert "add name=bridge1" in masked  # a name outside /snmp community stays
    assert f"add addresses=10.10.0.0/24 name={MASK}" in masked


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("cisco_ios", "\x00\x01\x02\x7f garbage \x1b\x1c" * 20),
        ("cisco_ios", "                ^\n% Invalid input detected at '^' marker.\n"),
        ("huawei_vrp", "Info: nothing here\n"),
        ("mikrotik_routeros", ""),
    ],
)
def test_output_that_is_not_a_config_is_refused(name: str, text: str) -> None:
    with pytest.raises(ParseError) as caught:
        check_config(name, text)
    assert caught.value.kind == "garbage_output"


SHARED_CONFIGS = {
    "cisco_ios/sample_02.ios": (
        "cisco_ios",
        ["$1$G1T6q4FE27/vKE46WINpy.", "075C727A6E0A180B03", "publicstrang", "privatestrang",
         "123A0D05431818090A38", "05280E1D705F5A043916"],
    ),
    "cisco_ios/C9200L-24P-4G_17.09.04a_show_running-config.txt": (
        "cisco_ios",
        ["$9$xxxSECRET_ENABLExxxxxxxxxxxxxx", "$9$xxxxxxxxxxSECRET_OXIDIZEDxxxxxxxxx", "AAAAAAAAAABBBBBBBBBB",
         "community public"],
    ),
    "hp_comware/HP_Procurve.conf": (
        "hp_comware",
        ["$c$4$pBfoabrc+7elCAvXrDqjFXl1AcI9/vTTtQSFFFhmE4wY2rQ72Kh1", "read public", "write private"],
    ),
    "hp_procurve/show_running_config.txt": ("hp_procurve", ['"public"']),
    "mikrotik_routeros/L009UiGS_7.15.2_export.rsc": (
        "mikrotik_routeros", ["password=password", "trap-community=community", "name=community"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("relative", sorted(SHARED_CONFIGS))
def test_real_configs_normalise_and_mask(shared_testdata: Path, relative: str) -> None:
    name, secrets = SHARED_CONFIGS[relative]
    text = (shared_testdata / "cli" / "configs" / relative).read_text()
    normalized = normalize_config(name, text)
    check_config(name, normalized)
    assert "\r" not in normalized and not any(line != line.rstrip() for line in normalized.splitlines())
    masked = mask_secrets(name, normalized)
    for secret in secrets:
        assert secret in normalized, secret
        assert secret not in masked, secret
    # A timestamp-only change (the volatile header lines) leaves the digest alone.
    touched = text.replace("09:37:40 CEST Tue Aug 20 2024", "11:00:01 CEST Wed Aug 21 2024")
    touched = touched.replace("2024-10-25 12:09:43", "2024-11-02 08:00:00")
    touched = touched.replace("ntp clock-period 11259542", "ntp clock-period 11259600")
    assert config_digest(normalize_config(name, touched)) == config_digest(normalized)
