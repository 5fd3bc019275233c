"""hardware.system on Linux: the kernel's host name, the domain (AD join via sssd or Samba, else the
DNS search domain) and DMI identity from ``/sys/class/dmi/id`` (``product_serial`` is root-only, so
it is simply absent for a normal user, and so is ``product_uuid``, the SMBIOS UUID that tells
cloned PCs apart), and how the PC booted (``/sys/firmware/efi`` exists only on a UEFI boot).

``hostname -d`` is not used: it resolves the name, which may send DNS queries.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from agent.probes.base import ProbeFailure, Raw, hw_text, text
from agent.probes.hardware.identity import smbios_uuid
from agent.probes.linux import first_line, ini_sections, read_files, under
from agent.schema.report import SystemInfo

DMI_ATTRIBUTES = (
    "sys_vendor",
    "product_name",
    "product_serial",
    "product_uuid",
    "bios_vendor",
    "bios_version",
    "bios_date",
)
HOSTNAME = "hostname"
FIRMWARE = "firmware"


def collect(root: str = "/", proc: str = "/proc", sys: str = "/sys") -> dict[str, str | bytes]:
    files = {
        HOSTNAME: under(proc, "sys/kernel/hostname"),
        "resolv.conf": under(root, "etc/resolv.conf"),
        "sssd.conf": under(root, "etc/sssd/sssd.conf"),
        "smb.conf": under(root, "etc/samba/smb.conf"),
    }
    files |= {name: under(sys, f"class/dmi/id/{name}") for name in DMI_ATTRIBUTES}
    raw = read_files(files)
    raw[FIRMWARE] = "uefi" if under(sys, "firmware/efi").is_dir() else "bios"
    return raw


def _ad_domain(raw: Raw) -> str | None:
    """The AD domain this machine is joined to: sssd's first domain, or Samba's realm in ADS mode."""
    sssd = ini_sections(str(raw.get("sssd.conf", "")))
    for name in sssd.get("sssd", {}).get("domains", "").split(","):
        if name.strip():
            return sssd.get(f"domain/{name.strip().lower()}", {}).get("ad_domain") or name.strip()
    samba = ini_sections(str(raw.get("smb.conf", ""))).get("global", {})
    if samba.get("security", "").lower() == "ads":
        return samba.get("realm")
    return None


def _dns_domain(raw: Raw) -> str | None:
    """The first ``search`` (or ``domain``) entry of resolv.conf; the last such line wins, as in libc."""
    found = None
    for line in str(raw.get("resolv.conf", "")).splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in ("search", "domain"):
            found = words[1].rstrip(".")
    return found


def _bios_date(value: str | None) -> str | None:
    """DMI writes MM/DD/YYYY; the report uses ISO dates like Windows' ReleaseDate."""
    if value and re.fullmatch(r"\d{2}/\d{2}/\d{4}", value):
        try:
            return datetime.strptime(value, "%m/%d/%Y").date().isoformat()
        except ValueError:
            return None
    return text(value)


def parse(raw: Raw) -> dict[str, Any]:
    name = first_line(raw.get(HOSTNAME))
    if name is None:
        raise ProbeFailure("failed", "the kernel gave no host name")
    hostname, _, fqdn_domain = name.partition(".")
    samba = ini_sections(str(raw.get("smb.conf", ""))).get("global", {})
    domain = _ad_domain(raw)
    dmi = {key: first_line(raw.get(key)) for key in DMI_ATTRIBUTES}
    firmware = first_line(raw.get(FIRMWARE))
    return {
        "system": SystemInfo(
            hostname=hostname,
            domain=text(domain or fqdn_domain or _dns_domain(raw)),
            workgroup=None if domain else text(samba.get("workgroup")),
            manufacturer=hw_text(dmi["sys_vendor"]),
            model=hw_text(dmi["product_name"]),
            serial=hw_text(dmi["product_serial"]),
            bios_vendor=hw_text(dmi["bios_vendor"]),
            bios_version=text(dmi["bios_version"]),
            bios_date=_bios_date(dmi["bios_date"]),
            smbios_uuid=smbios_uuid(dmi["product_uuid"]),
            firmware_type=firmware if firmware in ("uefi", "bios") else None,  # type: ignore[arg-type]
        )
    }
