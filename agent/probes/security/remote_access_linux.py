"""security.remote_access on Linux: is anything listening for SSH or RDP? Read from the kernel's
socket tables (``/proc/net/tcp``, ``tcp6``; no root needed, and a socket-activated ``ssh.socket``
counts as listening), on the ports sshd and xrdp are configured for (22 and 3389 by default) — and
on 3389 whatever xrdp says, where GNOME Remote Desktop serves RDP.
"""

from __future__ import annotations

import re
from typing import Any

from agent.probes.base import ProbeFailure, Raw, read_text
from agent.probes.linux import ini_sections, read_files, under

SSH_PORT = 22
RDP_PORT = 3389
_LISTEN = "0A"
SSHD_CONFIG = "sshd_config"


def collect(root: str = "/", proc: str = "/proc") -> dict[str, str | bytes]:
    files = {name: under(proc, f"net/{name}") for name in ("tcp", "tcp6")}
    files["xrdp.ini"] = under(root, "etc/xrdp/xrdp.ini")
    ssh = under(root, "etc/ssh")
    configs = [ssh / "sshd_config", *sorted(ssh.glob("sshd_config.d/*.conf"))]
    raw = read_files(files)
    # The main file and its drop-ins as one text: Port lines add up wherever they are.
    sshd = [content for path in configs if (content := read_text(path)) is not None]
    if sshd:
        raw[SSHD_CONFIG] = "\n".join(sshd)
    return raw


def _listening_ports(raw: Raw) -> set[int]:
    """Ports in LISTEN state; lines are ``sl local_address(hex ip:hex port) rem_address st …``."""
    ports = set()
    for key in ("tcp", "tcp6"):
        for line in str(raw.get(key, "")).splitlines()[1:]:
            words = line.split()
            if len(words) > 3 and words[3] == _LISTEN:
                ports.add(int(words[1].rsplit(":", 1)[1], 16))
    return ports


def _ssh_ports(raw: Raw) -> set[int]:
    """``Port`` lines of sshd_config and its drop-ins; 22 when none is set."""
    config = str(raw.get(SSHD_CONFIG, ""))
    ports = {int(port) for port in re.findall(r"^\s*Port\s+(\d+)", config, re.MULTILINE | re.IGNORECASE)}
    return ports or {SSH_PORT}


def _rdp_ports(raw: Raw) -> set[int]:
    """3389 and xrdp's ``port=`` in ``[Globals]`` (``3389`` or ``tcp://:3389``)."""
    port = ini_sections(str(raw.get("xrdp.ini", ""))).get("globals", {}).get("port", "")
    match = re.search(r"(\d+)$", port)
    return {RDP_PORT, int(match[1])} if match else {RDP_PORT}


def parse(raw: Raw) -> dict[str, Any]:
    if "tcp" not in raw and "tcp6" not in raw:
        raise ProbeFailure("failed", "/proc/net/tcp is not readable")
    listening = _listening_ports(raw)
    return {
        "ssh_enabled": bool(listening & _ssh_ports(raw)),
        "rdp_enabled": bool(listening & _rdp_ports(raw)),
    }
