"""security.remote_access on Windows: Remote Desktop from fDenyTSConnections (Group Policy's value
wins over the local one) and OpenSSH Server from the state of the ``sshd`` service."""

from __future__ import annotations

from typing import Any

import psutil

from agent.probes.base import Raw, text
from agent.probes.windows import first_instance, instances, registry_values, to_int, to_json

TERMINAL_SERVER = "TerminalServer.json"
TERMINAL_SERVICES_POLICY = "TerminalServicesPolicy.json"
SSHD = "sshd.json"

TERMINAL_SERVER_KEY = r"SYSTEM\CurrentControlSet\Control\Terminal Server"
TERMINAL_SERVICES_POLICY_KEY = r"SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services"


def collect() -> dict[str, str | bytes]:
    try:
        service = psutil.win_service_get("sshd")
        sshd = [{"Name": service.name(), "State": service.status(), "StartMode": service.start_type()}]
    except psutil.NoSuchProcess:
        sshd = []  # OpenSSH Server is not installed
    names = ("fDenyTSConnections",)
    return {
        TERMINAL_SERVER: to_json(registry_values(TERMINAL_SERVER_KEY, names=names)),
        TERMINAL_SERVICES_POLICY: to_json(registry_values(TERMINAL_SERVICES_POLICY_KEY, names=names)),
        SSHD: to_json(sshd),
    }


def _rdp_enabled(raw: Raw) -> bool | None:
    for key in (TERMINAL_SERVICES_POLICY, TERMINAL_SERVER):
        deny = to_int((first_instance(raw, key) or {}).get("fDenyTSConnections"))
        if deny is not None:
            return deny == 0
    return None


def parse(raw: Raw) -> dict[str, Any]:
    services = instances(raw, SSHD)
    ssh_enabled = None
    if services is not None:  # Win32_Service says "Running", psutil "running"
        ssh_enabled = any((text(service.get("State")) or "").lower() == "running" for service in services)
    return {"rdp_enabled": _rdp_enabled(raw), "ssh_enabled": ssh_enabled}
