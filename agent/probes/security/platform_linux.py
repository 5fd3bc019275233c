"""security.platform on Linux: Secure Boot from the ``SecureBoot`` EFI variable (4 attribute bytes,
then 1 when enforcing; a BIOS boot has no Secure Boot at all), and SMBv1 on a Samba server from
``server min protocol`` in smb.conf (its default has been SMB2_02 since Samba 4.11, NT1 before).
No Samba server gives None for SMBv1; UAC is a Windows notion and is left out.
"""

from __future__ import annotations

import re
from typing import Any

from agent.probes.base import Raw, read_text
from agent.probes.linux import first_line, ini_sections, installed, optional_tool, under

FIRMWARE = "firmware"
SECURE_BOOT = "SecureBoot.bin"
SMB_CONF = "smb.conf"
SMBD_VERSION = "smbd-version"
SMB1_DIALECTS = {"core", "coreplus", "lanman1", "lanman2", "nt1"}
SMB2_DEFAULT_SINCE = (4, 11)


def collect(root: str = "/", sys: str = "/sys") -> dict[str, str | bytes]:
    efi = under(sys, "firmware/efi")
    raw: dict[str, str | bytes] = {FIRMWARE: "uefi" if efi.is_dir() else "bios"}
    for variable in sorted(efi.glob("efivars/SecureBoot-*")):
        try:
            raw[SECURE_BOOT] = variable.read_bytes()
        except OSError:
            continue
    if installed("smbd", root):
        raw[SMB_CONF] = read_text(under(root, "etc/samba/smb.conf"), default="") or ""
        if (version := optional_tool("smbd", "-V")) is not None:
            raw[SMBD_VERSION] = version
    return raw


def _secure_boot(raw: Raw) -> bool | None:
    if first_line(raw.get(FIRMWARE)) == "bios":
        return False
    value = raw.get(SECURE_BOOT)
    return value[4] == 1 if isinstance(value, bytes) and len(value) >= 5 else None


def _smb1(raw: Raw) -> bool | None:
    if SMB_CONF not in raw:
        return None
    settings = ini_sections(str(raw[SMB_CONF])).get("global", {})
    minimum = settings.get("server min protocol") or settings.get("min protocol")
    if minimum:
        return minimum.lower() in SMB1_DIALECTS
    version = re.search(r"(\d+)\.(\d+)", str(raw.get(SMBD_VERSION, "")))
    return bool(version) and (int(version[1]), int(version[2])) < SMB2_DEFAULT_SINCE


def parse(raw: Raw) -> dict[str, Any]:
    return {"secure_boot": _secure_boot(raw), "smb1_enabled": _smb1(raw)}
