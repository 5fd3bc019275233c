"""Windows hardware parsers on real machines' recordings (../shared/testdata/windows)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agent.probes.base import ProbeFailure
from agent.probes.hardware import (
    cpu_windows,
    disks_windows,
    memory_windows,
    monitors_windows,
    network_windows,
    os_windows,
    system_windows,
)
from agent.probes.hardware.edid import decode
from tests.agent.windows_formats import (
    CNQUERY,
    GLPI_EDID,
    GLPI_WMI,
    TRMM,
    as_raw,
    checked,
    cnquery_stdout,
    edid_to_wmimonitorid,
    parsed,
    read_wmic_list,
    trmm_section,
    wmic_csv,
)


def wmic(testdata: Path, name: str) -> list[dict[str, Any]]:
    return read_wmic_list(testdata / GLPI_WMI / name)


def trmm(testdata: Path, machine: str, section: str) -> list[dict[str, Any]]:
    return trmm_section(testdata / TRMM / machine, section)


# ---------------------------------------------------------------- hardware.system


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        (
            "wmi1.json",
            {
                "hostname": "VNVMHOSTSRV4",
                "workgroup": "WORKGROUP",
                "manufacturer": "HP",
                "model": "ProLiant DL380 Gen9",
                "serial": "ABCD123456",
                "bios_vendor": "HP",
                "bios_version": "P89",
                "bios_date": "2016-09-13",
            },
        ),
        (
            # "Default string" serial (a Gigabyte board) is a placeholder, not a serial
            "wmi3.json",
            {
                "hostname": "VMHOST-123456",
                "workgroup": "WORKGROUP",
                "manufacturer": "Gigabyte Technology Co., Ltd.",
                "model": "X570 AORUS ULTRA",
                "bios_vendor": "American Megatrends Inc.",
                "bios_version": "F11",
                "bios_date": "2019-12-06",
            },
        ),
        (
            "wmi_python_agent.json",
            {
                "hostname": "LAPTOP-123456",
                "domain": "contoso.local",
                "manufacturer": "Dell Inc.",
                "model": "Inspiron 3493",
                "serial": "123456",
                "bios_vendor": "Dell Inc.",
                "bios_version": "1.1.0",
                "bios_date": "2019-08-16",
            },
        ),
    ],
)
def test_system_trmm(shared_testdata: Path, machine: str, expected: dict[str, Any]) -> None:
    raw = {
        **as_raw(system_windows.COMPUTER_SYSTEM, trmm(shared_testdata, machine, "comp_sys")),
        **as_raw(system_windows.BIOS, trmm(shared_testdata, machine, "bios")),
    }
    assert checked(parsed(system_windows, raw)) == {"system": expected}


def test_system_azure_ad_laptop_is_in_a_workgroup(shared_testdata: Path) -> None:
    raw = as_raw(system_windows.COMPUTER_SYSTEM, wmic(shared_testdata, "11-AzureAD-Win32_ComputerSystem.wmi"))
    assert checked(parsed(system_windows, raw)) == {
        "system": {
            "hostname": "DESKTOP-EHRK1QO",
            "workgroup": "WORKGROUP",
            "manufacturer": "LENOVO",
            "model": "20TBS57S00",
        }
    }


def test_system_vmware_from_get_wmiobject(shared_testdata: Path) -> None:
    script_output = cnquery_stdout(
        shared_testdata / CNQUERY / "os/smbios/testdata/windows.toml", "EncodedCommand"
    )
    smbios = msgspec.json.decode(script_output)
    raw = {
        **as_raw(system_windows.COMPUTER_SYSTEM, smbios["System"]),
        **as_raw(system_windows.BIOS, smbios["Bios"]),
    }
    system = parsed(system_windows, raw)["system"]
    assert (system.hostname, system.workgroup, system.domain) == ("WIN-816I2D5DUSD", "WORKGROUP", None)
    assert (system.manufacturer, system.model) == ("VMware, Inc.", "VMware7,1")
    assert system.serial == "VMware-56 4d bd 16 98 6b f9 23-49 3c f6 b1 4e 7c fc 0b"
    assert (system.bios_version, system.bios_date) == ("VMW71.00V.16722896.B64.2008100651", "2020-08-10")


def test_system_proxmox_vm(shared_testdata: Path) -> None:
    """The GLPI Proxmox dump has no computer name (a hostname is required) and an empty BIOS vendor."""
    computer = wmic(shared_testdata, "proxmox-Win32_ComputerSystem.wmi")
    raw = {
        **as_raw(system_windows.COMPUTER_SYSTEM, computer),
        **as_raw(system_windows.BIOS, wmic(shared_testdata, "proxmox-Win32_Bios.wmi")),
    }
    with pytest.raises(ProbeFailure, match="computer name"):
        parsed(system_windows, raw)
    raw.update(as_raw(system_windows.COMPUTER_SYSTEM, [{**computer[0], "Name": "PVE-GUEST"}]))
    assert checked(parsed(system_windows, raw)) == {
        "system": {
            "hostname": "PVE-GUEST",
            "manufacturer": "BOCHS_",
            "model": "BXPC____",
            "bios_version": "BOCHS  - 1",
            "bios_date": "2014-04-01",
        }
    }


# ---------------------------------------------------------------- hardware.os


@pytest.mark.parametrize(
    ("machine", "name", "build", "install_date"),
    [
        ("wmi1.json", "Microsoft Windows Server 2019 Standard", "17763", "2020-02-21T20:32:21Z"),
        ("wmi3.json", "Microsoft Windows Server 2019 Standard", "17763", "2020-03-13T14:47:52Z"),
        ("wmi_python_agent.json", "Microsoft Windows 10 Pro", "18363", "2020-06-04T03:44:43Z"),
    ],
)
def test_os_trmm(shared_testdata: Path, machine: str, name: str, build: str, install_date: str) -> None:
    result = checked(
        parsed(os_windows, as_raw(os_windows.OPERATING_SYSTEM, trmm(shared_testdata, machine, "os")))
    )
    assert result == {
        "os": {
            "family": "windows",
            "name": name,
            "version": f"10.0.{build}",
            "build": build,
            "architecture": "x86_64",
            "install_date": install_date,
        }
    }


def test_os_french_windows_7(shared_testdata: Path) -> None:
    """Caption with a trailing blank, OSArchitecture "32 bits", CIM_DATETIME at UTC+2."""
    raw = as_raw(os_windows.OPERATING_SYSTEM, wmic(shared_testdata, "win7-sp1-x64-Win32_OperatingSystem.wmi"))
    assert checked(parsed(os_windows, raw)) == {
        "os": {
            "family": "windows",
            "name": "Microsoft Windows 7 Professionnel",
            "version": "6.1.7600",
            "build": "7600",
            "architecture": "x86",
            "install_date": "2013-08-13T13:37:55Z",
        }
    }


def test_os_build_carries_the_update_revision(shared_testdata: Path) -> None:
    toml = shared_testdata / CNQUERY / "core/groups/testdata/windows.toml"
    raw = {
        **as_raw(os_windows.OPERATING_SYSTEM, wmic_csv(cnquery_stdout(toml, "wmic os get"))),
        os_windows.CURRENT_VERSION: cnquery_stdout(toml, "CurrentBuild, UBR"),
    }
    os_info = parsed(os_windows, raw)["os"]
    assert os_info.name == "Microsoft Windows Server 2019 Datacenter Evaluation"
    assert (os_info.version, os_info.build, os_info.architecture) == ("10.0.17763", "17763.720", "x86_64")
    assert os_info.install_date == datetime(2019, 9, 6, 13, 55, 15, tzinfo=UTC)


# ---------------------------------------------------------------- hardware.cpu


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        (
            "wmi1.json",
            {
                "model": "Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz",
                "cores": 16,
                "threads": 32,
                "sockets": 2,
                "max_mhz": 2098.0,
                "vendor": "GenuineIntel",
                "family": 6,
                "model_number": 79,
                "stepping": 1,
            },
        ),
        (
            # Win32_Processor pads the AMD name with blanks
            "wmi3.json",
            {
                "model": "AMD Ryzen 9 3900X 12-Core Processor",
                "cores": 12,
                "threads": 24,
                "sockets": 1,
                "max_mhz": 3793.0,
                "vendor": "AuthenticAMD",
                "family": 23,
                "model_number": 113,
                "stepping": 0,
            },
        ),
        (
            "wmi_python_agent.json",
            {
                "model": "Intel(R) Core(TM) i5-1035G4 CPU @ 1.10GHz",
                "cores": 4,
                "threads": 8,
                "sockets": 1,
                "max_mhz": 1498.0,
                "vendor": "GenuineIntel",
                "family": 6,
                "model_number": 126,
                "stepping": 5,
            },
        ),
    ],
)
def test_cpu_trmm(shared_testdata: Path, machine: str, expected: dict[str, Any]) -> None:
    raw = as_raw(cpu_windows.PROCESSOR, trmm(shared_testdata, machine, "cpu"))
    assert checked(parsed(cpu_windows, raw)) == {"cpu": expected}


@pytest.mark.parametrize(
    ("dump", "expected"),
    [
        (
            "7",
            {
                "model": "Intel(R) Core(TM) i5-2300 CPU @ 2.80GHz",
                "cores": 4,
                "threads": 4,
                "sockets": 1,
                "max_mhz": 2801.0,
                "vendor": "GenuineIntel",
                "family": 6,
                "model_number": 42,
                "stepping": 7,
            },
        ),
        # Server 2003 has no NumberOfCores: unknown, not zero
        (
            "2003",
            {
                "model": "Intel(R) Xeon(TM) CPU 3.06GHz",
                "sockets": 2,
                "max_mhz": 3065.0,
                "vendor": "GenuineIntel",
                "family": 15,
                "model_number": 2,
                "stepping": 9,
            },
        ),
        (
            "2008-with-2-different-cpus",
            {
                "model": "Intel(R) Xeon(R) CPU E5506 @ 2.13GHz / Intel(R) Xeon(R) CPU E5504 @ 2.00GHz",
                "cores": 8,
                "threads": 8,
                "sockets": 2,
                "max_mhz": 2000.0,
                "vendor": "GenuineIntel",
                "family": 6,
                "model_number": 26,
                "stepping": 5,
            },
        ),
        (
            "2019-amd-epyc",
            {
                "model": "AMD EPYC 7302 16-Core Processor",
                "cores": 2,
                "threads": 4,
                "sockets": 1,
                "max_mhz": 2994.0,
                "vendor": "AuthenticAMD",
                "family": 23,
                "model_number": 49,
                "stepping": 0,
            },
        ),
        # XP's WMI names a Core 2 "Pentium III Xeon"; that is what Windows says
        (
            "xp",
            {
                "model": "Intel Pentium III Xeon processor",
                "cores": 2,
                "threads": 2,
                "sockets": 1,
                "max_mhz": 2527.0,
                "vendor": "GenuineIntel",
                "family": 6,
                "model_number": 23,
                "stepping": 6,
            },
        ),
    ],
)
def test_cpu_glpi(shared_testdata: Path, dump: str, expected: dict[str, Any]) -> None:
    raw = as_raw(cpu_windows.PROCESSOR, wmic(shared_testdata, f"{dump}-Win32_Processor.wmi"))
    assert checked(parsed(cpu_windows, raw)) == {"cpu": expected}


# ---------------------------------------------------------------- hardware.memory


def test_memory_hp_server_drops_spd_placeholders(shared_testdata: Path) -> None:
    raw = {
        **as_raw(memory_windows.PHYSICAL_MEMORY, trmm(shared_testdata, "wmi1.json", "mem")),
        **as_raw(memory_windows.COMPUTER_SYSTEM, trmm(shared_testdata, "wmi1.json", "comp_sys")),
    }
    memory = checked(parsed(memory_windows, raw))["memory"]
    assert memory["total_bytes"] == 206014377984
    assert [module["slot"] for module in memory["modules"]] == [
        f"PROC {cpu} DIMM {dimm}" for cpu in (1, 2) for dimm in (1, 4, 9, 12)
    ]
    assert sum(module["size_bytes"] for module in memory["modules"]) == 4 * 16 * 2**30 + 4 * 32 * 2**30
    assert memory["modules"][0] == {
        "slot": "PROC 1 DIMM 1",
        "size_bytes": 16 * 2**30,
        "manufacturer": "HP",
        "part_number": "809082-091",
        "speed_mhz": 2133,
        "type": "DDR4",
    }
    # Manufacturer "UNKNOWN", PartNumber "NOT AVAILABLE", SerialNumber "" are not facts
    assert memory["modules"][-1] == {
        "slot": "PROC 2 DIMM 12",
        "size_bytes": 32 * 2**30,
        "speed_mhz": 2133,
        "type": "DDR4",
    }


@pytest.mark.parametrize(
    ("machine", "total", "first"),
    [
        (
            "wmi3.json",
            137385967616,
            {
                "slot": "P0 CHANNEL A / DIMM 0",
                "size_bytes": 32 * 2**30,
                "part_number": "CMK64GX4M2D3000C16",
                "speed_mhz": 2133,
                "type": "DDR4",
            },
        ),
        (
            "wmi_python_agent.json",
            8346091520,
            {
                "slot": "DIMM A",
                "size_bytes": 4 * 2**30,
                "manufacturer": "Samsung",
                "part_number": "M471A5244CB0-CTD",
                "serial": "123456",
                "speed_mhz": 2667,
                "type": "DDR4",
            },
        ),
    ],
)
def test_memory_trmm(shared_testdata: Path, machine: str, total: int, first: dict[str, Any]) -> None:
    raw = {
        **as_raw(memory_windows.PHYSICAL_MEMORY, trmm(shared_testdata, machine, "mem")),
        **as_raw(memory_windows.COMPUTER_SYSTEM, trmm(shared_testdata, machine, "comp_sys")),
    }
    memory = checked(parsed(memory_windows, raw))["memory"]
    assert memory["total_bytes"] == total
    assert memory["modules"][0] == first
    # two channels each have a "DIMM 0" and a "DIMM 1": the slot names stay apart
    assert len({module["slot"] for module in memory["modules"]}) == len(memory["modules"])


@pytest.mark.parametrize(
    ("dump", "modules"),
    [
        # French Windows 7: "Undefined" maker and "0000000" serial are placeholders
        (
            "7",
            [
                {
                    "slot": "BANK1 / DIMM1",
                    "size_bytes": 2 * 2**30,
                    "part_number": "F3-12800CL9-2GBXL",
                    "speed_mhz": 1600,
                },
                {
                    "slot": "BANK3 / DIMM3",
                    "size_bytes": 2 * 2**30,
                    "part_number": "F3-12800CL9-2GBXL",
                    "speed_mhz": 1600,
                },
            ],
        ),
        (
            "xp",
            [
                {"slot": "DIMM_A", "size_bytes": 2 * 2**30, "speed_mhz": 800},
                {"slot": "DIMM_B", "size_bytes": 2 * 2**30, "speed_mhz": 800},
            ],
        ),
        # BankLabel and DeviceLocator say the same thing once
        ("2003SP2", [{"slot": "RAM slot #0", "size_bytes": 2**30}]),
    ],
)
def test_memory_glpi(shared_testdata: Path, dump: str, modules: list[dict[str, Any]]) -> None:
    raw = {
        **as_raw(memory_windows.PHYSICAL_MEMORY, wmic(shared_testdata, f"{dump}-Win32_PhysicalMemory.wmi")),
        **as_raw(memory_windows.COMPUTER_SYSTEM, [{"TotalPhysicalMemory": "4294967296"}]),
    }
    assert checked(parsed(memory_windows, raw))["memory"]["modules"] == modules


# ---------------------------------------------------------------- hardware.disks


def test_disks_storage_spaces_server(shared_testdata: Path) -> None:
    disks = checked(
        parsed(disks_windows, as_raw(disks_windows.DISK_DRIVE, trmm(shared_testdata, "wmi1.json", "disk")))
    )
    assert [(disk["name"], disk["size_bytes"], disk["model"]) for disk in disks["disks"]] == [
        (r"\\.\PHYSICALDRIVE2", 500105249280, "ATA Crucial_CT500MX2 SCSI Disk Device"),
        (r"\\.\PHYSICALDRIVE3", 500105249280, "ATA CT500MX500SSD1 SCSI Disk Device"),
        (r"\\.\PHYSICALDRIVE5", 3962100925440, "Microsoft Storage Space Device"),
    ]
    # Without MSFT_PhysicalDisk nobody said SSD or HDD
    assert {disk.get("media", "unknown") for disk in disks["disks"]} == {"unknown"}


@pytest.mark.parametrize(
    ("raw_disks", "expected"),
    [
        (
            ("trmm", "wmi_python_agent.json"),
            {
                "name": r"\\.\PHYSICALDRIVE0",
                "size_bytes": 256052966400,
                "model": "NVMe SAMSUNG MZVLW256",
                "serial": "123456",
                "media": "ssd",
                "interface": "SCSI",
            },
        ),
        (
            ("glpi", "latitude-7480-Win32_DiskDrive.wmi"),
            {
                "name": r"\\.\PHYSICALDRIVE0",
                "size_bytes": 512105932800,
                "model": "PC300 NVMe SK hynix 512GB",
                "serial": "ACE4_2E61_9000_7804.",
                "media": "ssd",
                "interface": "SCSI",
            },
        ),
    ],
)
def test_disks_nvme_is_ssd(
    shared_testdata: Path, raw_disks: tuple[str, str], expected: dict[str, Any]
) -> None:
    source, name = raw_disks
    drives = trmm(shared_testdata, name, "disk") if source == "trmm" else wmic(shared_testdata, name)
    assert checked(parsed(disks_windows, as_raw(disks_windows.DISK_DRIVE, drives))) == {"disks": [expected]}


def test_disks_sixteen_vmware_disks_in_order(shared_testdata: Path) -> None:
    drives = wmic(shared_testdata, "2008-Enterprise-Win32_DiskDrive.wmi")
    disks = parsed(disks_windows, as_raw(disks_windows.DISK_DRIVE, drives))["disks"]
    assert [disk.name for disk in disks] == [rf"\\.\PHYSICALDRIVE{index}" for index in range(16)]
    assert {disk.model for disk in disks} == {"VMware Virtual disk SCSI Disk Device"}
    assert disks[0].size_bytes == 53686402560


# ---------------------------------------------------------------- hardware.network


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        (
            "wmi1.json",
            [
                ("HOST NIC", "3c:a8:2a:e6:27:c8", "172.17.9.121"),
                ("vEthernet (SHARED1)", "94:18:82:6e:16:2d", "172.17.9.6"),
                ("vEthernet (SHARED2)", "94:18:82:6e:16:2c", "172.17.9.122"),
            ],
        ),
        (
            "wmi3.json",
            [
                ("Ethernet 2", "6c:b3:11:1c:a9:eb", "192.168.10.149"),
                ("vEthernet (shared1)", "6c:b3:11:1c:a9:ea", "192.168.10.114"),
            ],
        ),
        (
            "wmi_python_agent.json",
            [
                ("Wi-Fi", "40:23:43:d0:3b:7f", "172.17.9.241"),
                ("Local Area Connection", "00:ff:77:a0:ed:f6", "10.8.0.188"),
            ],
        ),
    ],
)
def test_network_trmm(shared_testdata: Path, machine: str, expected: list[tuple[str, str, str]]) -> None:
    raw = {
        **as_raw(network_windows.CONFIGURATION, trmm(shared_testdata, machine, "network_config")),
        **as_raw(network_windows.ADAPTER, trmm(shared_testdata, machine, "network_adapter")),
    }
    interfaces = parsed(network_windows, raw)["network_interfaces"]
    assert [(i.name, i.mac, i.addresses[0]) for i in interfaces] == expected
    assert all(i.is_up for i in interfaces)
    assert all(len(i.addresses) == 2 for i in interfaces)  # IPv4 and link-local IPv6


def test_network_speeds(shared_testdata: Path) -> None:
    raw = {
        **as_raw(
            network_windows.CONFIGURATION, trmm(shared_testdata, "wmi_python_agent.json", "network_config")
        ),
        **as_raw(network_windows.ADAPTER, trmm(shared_testdata, "wmi_python_agent.json", "network_adapter")),
    }
    wifi = parsed(network_windows, raw)["network_interfaces"][0]
    assert (wifi.speed_mbps, wifi.description) == (300, "Qualcomm QCA9377 802.11ac Wireless Adapter")


@pytest.mark.parametrize(
    ("dump", "expected"),
    [
        (
            "10",
            [
                (
                    "Intel(R) PRO/1000 MT Desktop Adapter",
                    "08:00:27:37:a7:5d",
                    ["0.0.0.9", "fe82::fe82:fe82:fe82:fe82"],
                )
            ],
        ),
        (
            "7",
            [
                (
                    "Realtek PCIe GBE Family Controller",
                    "f4:6d:04:97:2d:3e",
                    ["192.168.0.1", "fe80::311a:2127:dded:6618"],
                )
            ],
        ),
        # XP lists the filter driver's miniport twice, identical: reported once
        (
            "xp",
            [("Broadcom NetXtreme Gigabit Ethernet - Teefer2 Miniport", "00:14:c2:0d:b0:fb", ["10.36.6.30"])],
        ),
    ],
)
def test_network_glpi(shared_testdata: Path, dump: str, expected: list[tuple[str, str, list[str]]]) -> None:
    configs = wmic(shared_testdata, f"{dump}-Win32_NetworkAdapterConfiguration.wmi")
    interfaces = parsed(network_windows, as_raw(network_windows.CONFIGURATION, configs))["network_interfaces"]
    assert [(i.name, i.mac, i.addresses) for i in interfaces] == expected
    assert all(i.is_up is None and i.speed_mbps is None for i in interfaces)  # no Win32_NetworkAdapter


# ---------------------------------------------------------------- hardware.monitors


@pytest.mark.parametrize(
    ("edid", "expected"),
    [
        # No serial descriptor: Windows falls back to the numeric EDID serial
        (
            "EV2785",
            {
                "manufacturer": "EIZO",
                "model": "EV2785",
                "serial": "68056070",
                "year_of_manufacture": 2020,
                "week_of_manufacture": 28,
            },
        ),
        (
            "benq-bl2420-tf",
            {
                "manufacturer": "BenQ",
                "model": "BenQ LCD",
                "serial": "X1J08410019",
                "year_of_manufacture": 2018,
                "week_of_manufacture": 5,
            },
        ),
    ],
)
def test_monitors_from_real_edid(shared_testdata: Path, edid: str, expected: dict[str, Any]) -> None:
    blob = (shared_testdata / GLPI_EDID / edid).read_bytes()
    result = checked(
        parsed(monitors_windows, as_raw(monitors_windows.MONITOR_ID, [edid_to_wmimonitorid(blob)]))
    )
    assert result == {"monitors": [expected]}
    # The same monitor as the Linux probe reads it from the EDID, but for BenQ's serial prefix ("ET"),
    # which only the raw EDID carries.
    from_edid = checked({"monitors": [decode(blob)]})["monitors"][0]
    assert {**from_edid, "serial": None} == {**expected, "serial": None}


def test_system_smbios_uuid_from_computer_system_product(shared_testdata: Path) -> None:
    """The HP server's Win32_ComputerSystemProduct.UUID, in lower case, identifies it beside MachineGuid."""
    raw = {
        **as_raw(system_windows.COMPUTER_SYSTEM, trmm(shared_testdata, "wmi1.json", "comp_sys")),
        **as_raw(system_windows.PRODUCT, trmm(shared_testdata, "wmi1.json", "comp_sys_prod")),
    }
    system = checked(parsed(system_windows, raw))["system"]
    assert system["smbios_uuid"] == "30393538-3438-584d-5136-353130325031"
    assert "firmware_type" not in system  # not collected here
