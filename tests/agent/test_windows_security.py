"""Windows security-posture parsers on real recordings (SecurityCenter2, firewall, BitLocker,
Windows Update, Administrators)."""

from __future__ import annotations

import json
from pathlib import Path

from agent.probes.security import (
    accounts_windows,
    antivirus_windows,
    encryption_windows,
    firewall_windows,
    updates_windows,
)
from tests.agent.windows_formats import (
    CNQUERY,
    GLPI_REGISTRY,
    GLPI_WMI,
    TRMM,
    as_raw,
    checked,
    cnquery_stdout,
    parsed,
    read_reg,
    read_wmic_list,
    reg_key,
    trmm_pending_updates,
)

CNQUERY_WINDOWS = CNQUERY / "os" / "windows" / "testdata"
WINDOWS_2019 = CNQUERY / "core" / "packages" / "testdata" / "windows_2019.toml"
GROUPS = CNQUERY / "core" / "groups" / "testdata" / "windows.toml"


def security_center(testdata: Path, name: str) -> dict[str, str | bytes]:
    products = json.loads((testdata / CNQUERY_WINDOWS / name).read_text("utf-8"))["antiVirus"]
    return as_raw(antivirus_windows.SECURITY_CENTER, products)


def test_antivirus_defender_alone(shared_testdata: Path) -> None:
    raw = security_center(shared_testdata, "security_products_antivirus.json")
    assert checked(parsed(antivirus_windows, raw)) == {
        "antivirus": [
            {"name": "Windows Defender", "source": "securitycenter", "enabled": True, "up_to_date": True}
        ]
    }


def test_antivirus_sophos_with_passive_defender(shared_testdata: Path) -> None:
    """productState 331776/266240 = on, current; Defender's 393472 = off (passive) but current."""
    raw = security_center(shared_testdata, "security_products_antispyware.json")
    assert [(av.name, av.enabled, av.up_to_date) for av in parsed(antivirus_windows, raw)["antivirus"]] == [
        ("Sophos Anti-Virus", True, True),
        ("Windows Defender", False, True),
        ("Sophos Intercept X", True, True),
    ]


def test_antivirus_defender_status_replaces_security_centers_entry(shared_testdata: Path) -> None:
    raw = {
        **security_center(shared_testdata, "security_products_antispyware.json"),
        **as_raw(
            antivirus_windows.DEFENDER,
            {
                "AMRunningMode": "Passive Mode",
                "AntivirusEnabled": True,
                "RealTimeProtectionEnabled": False,
                "AntivirusSignatureVersion": "1.363.1234.0",
                "AntivirusSignatureAge": 0,
            },
        ),
    }
    assert checked(parsed(antivirus_windows, raw))["antivirus"] == [
        {
            "name": "Microsoft Defender Antivirus",
            "source": "defender",
            "enabled": False,
            "up_to_date": True,
            "signature_version": "1.363.1234.0",
            "signature_age_days": 0.0,
        },
        {"name": "Sophos Anti-Virus", "source": "securitycenter", "enabled": True, "up_to_date": True},
        {"name": "Sophos Intercept X", "source": "securitycenter", "enabled": True, "up_to_date": True},
    ]


def test_firewall_net_firewall_profile(shared_testdata: Path) -> None:
    raw = {
        firewall_windows.NET_FIREWALL_PROFILE: (
            shared_testdata / CNQUERY_WINDOWS / "firewall-profiles.json"
        ).read_text()
    }
    assert checked(parsed(firewall_windows, raw)) == {
        "firewall": [
            {"profile": "private", "enabled": True, "default_inbound": "block"},
            {"profile": "public", "enabled": True, "default_inbound": "block"},
        ]
    }


def firewall_registry(testdata: Path, machine: str, services: str) -> dict[str, str | bytes]:
    policy = rf"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\{services}\SharedAccess\Parameters\FirewallPolicy"
    keys = [
        reg_key(read_reg(testdata / GLPI_REGISTRY / f"{machine}-{profile}.reg"), rf"{policy}\{profile}")
        for profile in ("DomainProfile", "StandardProfile", "PublicProfile")
    ]
    return as_raw(firewall_windows.FIREWALL_POLICY, keys)


def test_firewall_registry_all_on(shared_testdata: Path) -> None:
    firewall = parsed(firewall_windows, firewall_registry(shared_testdata, "10", "Services"))["firewall"]
    assert [(p.profile, p.enabled, p.default_inbound) for p in firewall] == [
        ("domain", True, "unknown"),
        ("private", True, "unknown"),
        ("public", True, "unknown"),
    ]


def test_firewall_registry_all_off(shared_testdata: Path) -> None:
    firewall = parsed(firewall_windows, firewall_registry(shared_testdata, "7_firewall", "services"))[
        "firewall"
    ]
    assert [(p.profile, p.enabled) for p in firewall] == [
        ("domain", False),
        ("private", False),
        ("public", False),
    ]


# Automatic Updates searched successfully an hour before the probe ran.
FRESH_SEARCH = as_raw(
    updates_windows.SEARCH,
    {
        "LastSearchSuccessDate": "2020-10-01 08:00:00",
        "LastInstallationSuccessDate": None,
        "Now": "2020-10-01 09:00:00",
    },
)


def test_updates_wua_search_and_get_hotfix(shared_testdata: Path) -> None:
    toml = shared_testdata / WINDOWS_2019
    raw = {
        updates_windows.PENDING: cnquery_stdout(toml, "EncodedCommand"),
        updates_windows.HOTFIXES: cnquery_stdout(toml, "Get-HotFix"),
        **FRESH_SEARCH,
    }
    # KB4537759 (Critical) and KB4538461 (Security Updates classification, no severity)
    assert checked(parsed(updates_windows, raw)) == {
        "updates": {
            "pending_count": 6,
            "pending_security_count": 2,
            "last_installed_at": "2020-09-09T00:00:00Z",
            "search_state": "current",
            "last_search_at": "2020-10-01T08:00:00Z",
        }
    }


def test_updates_trmm_search_results(shared_testdata: Path) -> None:
    pending = trmm_pending_updates(shared_testdata / TRMM / "winupdates.json")
    updates = parsed(updates_windows, {**as_raw(updates_windows.PENDING, pending), **FRESH_SEARCH})["updates"]
    # 15 updates, 7 installed; of the 8 pending, 5 are security updates (one without a severity)
    assert (updates.pending_count, updates.pending_security_count) == (8, 5)
    assert updates.last_installed_at is None and updates.reboot_required is None


def test_updates_same_search_results_when_stale_are_not_counted(shared_testdata: Path) -> None:
    """The same offline results, but the last successful search was 8 days ago: no count."""
    pending = trmm_pending_updates(shared_testdata / TRMM / "winupdates.json")
    stale = as_raw(
        updates_windows.SEARCH,
        {"LastSearchSuccessDate": "2020-10-01 08:00:00", "Now": "2020-10-09 08:00:01"},
    )
    updates = parsed(updates_windows, {**as_raw(updates_windows.PENDING, pending), **stale})["updates"]
    assert (updates.search_state, updates.pending_count, updates.pending_security_count) == (
        "stale",
        None,
        None,
    )


def test_encryption_bitlocker_status(shared_testdata: Path) -> None:
    volumes = json.loads((shared_testdata / CNQUERY_WINDOWS / "bitlocker_status.json").read_text("utf-8"))
    flat = [{**volume["volume"], **volume["conversionStatus"]} for volume in volumes]
    assert checked(parsed(encryption_windows, as_raw(encryption_windows.VOLUMES, flat))) == {
        "disk_encryption": [
            {
                "volume": "C:",
                "encrypted": True,
                "method": "XTS-AES-128",
                "protection_on": True,
                "encrypted_percent": 100.0,
            },
            {"volume": "E:", "encrypted": False, "protection_on": False, "encrypted_percent": 0.0},
        ]
    }


def test_encryption_wmic_dump(shared_testdata: Path) -> None:
    volumes = read_wmic_list(shared_testdata / GLPI_WMI / "win10-crypt-Win32_EncryptableVolume.wmi")
    assert checked(parsed(encryption_windows, as_raw(encryption_windows.VOLUMES, volumes))) == {
        "disk_encryption": [{"volume": "C:", "encrypted": True, "method": "AES-256", "protection_on": True}]
    }


def test_accounts_single_administrator_is_an_object_not_an_array(shared_testdata: Path) -> None:
    stdout = cnquery_stdout(shared_testdata / GROUPS, '-Group "Administrators"')
    assert stdout.lstrip().startswith("{")
    assert checked(parsed(accounts_windows, {accounts_windows.ADMINISTRATORS: stdout})) == {
        "local_admins": ["TEST\\chris"],
        "local_admin_accounts": [
            {"name": "TEST\\chris", "kind": "user", "sid": "S-1-5-21-2356735557-1575748656-448136971-500"}
        ],
        "guest_enabled": None,
    }


def test_accounts_both_ways_of_listing_give_one_set(shared_testdata: Path) -> None:
    """The recorded Get-LocalGroupMember answer and the ADSI fallback's spelling of the same member
    (``WORKGROUP/TEST/chris``, lower case, its SID as a string) report the same administrator."""
    stdout = cnquery_stdout(shared_testdata / GROUPS, '-Group "Administrators"')
    member = json.loads(stdout)
    adsi = {"Name": "WORKGROUP\\test\\chris", "SID": member["SID"]["Value"], "ObjectClass": "User"}
    first = parsed(accounts_windows, {accounts_windows.ADMINISTRATORS: stdout})
    second = parsed(accounts_windows, as_raw(accounts_windows.ADMINISTRATORS, [adsi]))
    assert first == second


def test_accounts_several_members(shared_testdata: Path) -> None:
    stdout = cnquery_stdout(shared_testdata / GROUPS, '-Group "Users"')
    assert parsed(accounts_windows, {accounts_windows.ADMINISTRATORS: stdout})["local_admins"] == [
        "NT AUTHORITY\\Authenticated Users",
        "NT AUTHORITY\\INTERACTIVE",
    ]
