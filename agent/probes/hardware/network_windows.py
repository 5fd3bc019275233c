"""hardware.network on Windows: the IP-enabled Win32_NetworkAdapterConfiguration entries (addresses,
MAC), joined by Index with Win32_NetworkAdapter (connection name, speed, connected or not).
``IPSubnet`` runs parallel to ``IPAddress``: a mask ("255.255.255.0") for IPv4, a prefix length
("64") for IPv6; together they give ``networks`` ("10.20.0.15/24")."""

from __future__ import annotations

import ipaddress
from typing import Any

from agent.probes.base import ProbeFailure, Raw, text
from agent.probes.windows import cim, instances, powershell, to_bool, to_int
from agent.schema.report import NetworkInterface

CONFIGURATION = "Win32_NetworkAdapterConfiguration.json"
ADAPTER = "Win32_NetworkAdapter.json"

CONNECTED = 2  # Win32_NetworkAdapter.NetConnectionStatus
UNKNOWN_SPEED = 2**63 - 1  # what Windows reports for a disconnected adapter


PIPELINES: dict[str, str] = {
    CONFIGURATION: cim(
        "Win32_NetworkAdapterConfiguration",
        "Index",
        "Description",
        "MACAddress",
        "IPAddress",
        "IPSubnet",
        "IPEnabled",
        where="IPEnabled = TRUE",
    ),
    ADAPTER: cim("Win32_NetworkAdapter", "Index", "Name", "NetConnectionID", "NetConnectionStatus", "Speed"),
}
"""What collect() asks PowerShell; declared as data so one run serves every probe."""
REQUIRED_PIPELINES = (CONFIGURATION,)


def collect() -> dict[str, str | bytes]:
    return dict(
        powershell(
            PIPELINES,
            required=REQUIRED_PIPELINES,
        )
    )


def _mac(value: Any) -> str | None:
    mac = (text(value) or "").lower().replace("-", ":")
    return mac if len(mac) == 17 else None


def _addresses(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [address for item in values if (address := text(item))][:256]


def networks(addresses: list[str], subnets: list[str]) -> list[str] | None:
    """``address/prefix`` for each address with a valid subnet beside it; None without subnets."""
    if not subnets:
        return None
    found = []
    for address, subnet in zip(addresses, subnets, strict=False):
        try:
            found.append(ipaddress.ip_interface(f"{address}/{subnet}").with_prefixlen)
        except ValueError:
            continue
    return found


def _interface(config: dict[str, Any], adapter: dict[str, Any]) -> NetworkInterface:
    speed = to_int(adapter.get("Speed"))
    status = to_int(adapter.get("NetConnectionStatus"))
    description = text(config.get("Description")) or text(adapter.get("Name"))
    return NetworkInterface(
        name=text(adapter.get("NetConnectionID")) or description or f"adapter {config.get('Index')}",
        mac=_mac(config.get("MACAddress")),
        addresses=_addresses(config.get("IPAddress")),
        networks=networks(_addresses(config.get("IPAddress")), _addresses(config.get("IPSubnet"))),
        speed_mbps=speed // 1_000_000 if speed and speed < UNKNOWN_SPEED else None,
        is_up=None if status is None else status == CONNECTED,
        description=description,
    )


def parse(raw: Raw) -> dict[str, Any]:
    configs = instances(raw, CONFIGURATION)
    if configs is None:
        raise ProbeFailure("failed", "Win32_NetworkAdapterConfiguration was not collected")
    adapters = {to_int(adapter.get("Index")): adapter for adapter in instances(raw, ADAPTER) or []}
    interfaces: list[NetworkInterface] = []
    for config in configs:
        interface = _interface(config, adapters.get(to_int(config.get("Index"))) or {})
        # XP lists a filter driver's miniport twice with the same name, MAC and address.
        if to_bool(config.get("IPEnabled")) and interface not in interfaces:
            interfaces.append(interface)
    return {"network_interfaces": interfaces}
