"""Linux probe details the golden cases do not show: ``collect()`` reads under its I/O roots, parsers
fail with a ProbeFailure when the essentials are missing, and the shared text parsers."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.probes import linux
from agent.probes.base import ProbeFailure
from agent.probes.hardware import cpu_linux, memory_linux, system_linux, tpm_linux
from agent.probes.health import system as health_system
from agent.probes.security import accounts_linux, remote_access_linux, updates_linux
from agent.probes.software import packages_linux
from agent.schema.report import LocalAdmin, Tpm


def _write(root: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)


def test_collect_reads_under_its_io_roots(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "proc/sys/kernel/hostname": "pc-07\n",
            "sys/class/dmi/id/sys_vendor": "HP\n",
            "sys/class/dmi/id/bios_date": "03/14/2022\n",
            "sys/class/dmi/id/product_uuid": "4C4C4544-0058-4B10-8032-B7C04F4C4D33\n",
            "sys/firmware/efi/fw_platform_size": "64\n",
            "sys/class/tpm/tpm0/tpm_version_major": "2\n",
            "etc/resolv.conf": "search corp.example\n",
            "etc/passwd": "root:x:0:0:root:/root:/bin/bash\n",
            "etc/group": "sudo:x:27:admin\n",
            "var/lib/dpkg/status": "Package: bash\nStatus: install ok installed\nVersion: 5.2\n",
        },
    )
    root, proc, sys = str(tmp_path), str(tmp_path / "proc"), str(tmp_path / "sys")
    system = system_linux.parse(system_linux.collect(root=root, proc=proc, sys=sys))["system"]
    assert (system.hostname, system.domain, system.manufacturer, system.bios_date) == (
        "pc-07",
        "corp.example",
        "HP",
        "2022-03-14",
    )
    assert (system.smbios_uuid, system.firmware_type) == ("4c4c4544-0058-4b10-8032-b7c04f4c4d33", "uefi")
    assert tpm_linux.parse(tpm_linux.collect(sys=sys)) == {"tpm": Tpm(present=True, version="2.0")}
    assert accounts_linux.parse(accounts_linux.collect(root=root)) == {
        "local_admins": ["admin", "root"],
        "local_admin_accounts": [LocalAdmin(name="admin", kind="user"), LocalAdmin(name="root", kind="user")],
        "guest_enabled": False,  # no guest account, so no shadow needed
    }
    assert [p.name for p in packages_linux.parse(packages_linux.collect(root=root))["software"]] == ["bash"]


def test_update_lists_age_is_read_under_the_root(tmp_path: Path) -> None:
    """The lists' times come from the I/O root; an apt stamp 30 days old makes the search stale."""
    _write(tmp_path, {"var/lib/apt/periodic/update-success-stamp": "", "var/lib/apt/lists/lock": ""})
    month_ago = time.time() - 30 * 86400
    for path in ("var/lib/apt/periodic/update-success-stamp", "var/lib/apt/lists"):
        os.utime(tmp_path / path, (month_ago, month_ago))
    raw = updates_linux.collect(root=str(tmp_path))
    raw[updates_linux.APT] = "Inst bash [5.2-1] (5.2-2 Debian:12.8/stable [amd64])\n"  # as if apt-get ran
    updates = updates_linux.parse(raw)["updates"]
    assert (updates.search_state, updates.pending_count) == ("stale", None)
    assert updates.last_search_at is not None and abs(updates.last_search_at.timestamp() - month_ago) < 1


def test_sshd_drop_ins_are_read_with_the_main_config(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\n",
            "etc/ssh/sshd_config.d/port.conf": "Port 2200\n",
            "proc/net/tcp": "  sl  local_address rem_address   st\n   0: 00000000:0898 00000000:0000 0A 0\n",
        },
    )
    raw = remote_access_linux.collect(root=str(tmp_path), proc=str(tmp_path / "proc"))
    assert remote_access_linux.parse(raw) == {"ssh_enabled": True, "rdp_enabled": False}


@pytest.mark.parametrize(
    ("module", "raw"),
    [
        (cpu_linux, {"cpuinfo": "flags : fpu\n"}),
        (memory_linux, {"meminfo": "MemFree: 1 kB\n"}),
        (system_linux, {}),
        (accounts_linux, {"group": "sudo:x:27:\n"}),
        (packages_linux, {}),
        (remote_access_linux, {}),
        (health_system, {"psutil.json": '{"cpu_percent": 1.0}'}),
        (health_system, {}),
    ],
)
def test_missing_essentials_are_a_probe_failure(module: object, raw: dict[str, str]) -> None:
    with pytest.raises(ProbeFailure):
        module.parse(raw)  # type: ignore[attr-defined]


def test_key_values_unquote_like_a_shell() -> None:
    assert linux.key_values("NAME=\"Astra Linux\"\n# c\nID=astra\nVERSION_ID='1.7_x86-64'\nBAD\n") == {
        "NAME": "Astra Linux",
        "ID": "astra",
        "VERSION_ID": "1.7_x86-64",
    }


def test_ini_sections_read_indented_samba_keys() -> None:
    sections = linux.ini_sections("[global]\n   Server  Min Protocol = NT1\n; comment\n[Share]\npath=/srv\n")
    assert sections["global"] == {"server min protocol": "NT1"} and sections["share"] == {"path": "/srv"}


def test_local_time_falls_back_to_utc_for_an_unknown_zone() -> None:
    assert linux.local_time("2024-12-01 10:00:00", "Mars/Olympus") == datetime(2024, 12, 1, 10, tzinfo=UTC)
    yekaterinburg = linux.local_time("2024-12-01 10:00:00", "Asia/Yekaterinburg")
    assert yekaterinburg == datetime(2024, 12, 1, 5, tzinfo=UTC)
    assert linux.local_time("garbage", None) is None


def test_run_tool_names_a_missing_tool() -> None:
    with pytest.raises(ProbeFailure) as failure:
        linux.run_tool("dozor-no-such-tool")
    assert failure.value.kind == "missing_tool"
