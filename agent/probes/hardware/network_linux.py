"""hardware.network on Linux: the PC's network adapters from ``/sys/class/net`` (MAC, link speed,
state, driver), IPv4 addresses from psutil and IPv6 ones from ``/proc/net/if_inet6``, each also
with its prefix length in ``networks`` (psutil's netmask, if_inet6's prefix column).

Only interfaces backed by a device are listed: loopback, bridges, veth pairs, tunnels and other
virtual interfaces come and go with containers and VPNs and would make the inventory churn. For
the same reason temporary (privacy) and not-yet-valid IPv6 addresses are left out.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from typing import Any

import psutil

from agent.probes.base import Raw, load_json, read_text, text
from agent.probes.linux import sysfs_attributes, to_json, under
from agent.schema.report import NetworkInterface

INTERFACES = "interfaces.json"
IF_INET6 = "if_inet6"
_ATTRIBUTES = ("address", "operstate", "speed")
# IFA_F_TEMPORARY, IFA_F_DADFAILED, IFA_F_DEPRECATED, IFA_F_TENTATIVE
_UNSTABLE_IPV6 = 0x01 | 0x08 | 0x20 | 0x40


def collect(proc: str = "/proc", sys: str = "/sys") -> dict[str, str | bytes]:
    found = psutil.net_if_addrs()
    ipv4 = {
        name: sorted(address.address for address in addresses if address.family == socket.AF_INET)
        for name, addresses in found.items()
    }
    masks = {
        name: {address.address: address.netmask for address in addresses if address.family == socket.AF_INET}
        for name, addresses in found.items()
    }
    interfaces: dict[str, dict[str, Any]] = {}
    for directory in sorted(under(sys, "class/net").iterdir()):
        attributes: dict[str, Any] = sysfs_attributes(directory, _ATTRIBUTES)
        attributes["device"] = (directory / "device").exists()
        if (driver := directory / "device/driver").exists():
            attributes["driver"] = os.path.basename(os.path.realpath(driver))
        attributes["ipv4"] = ipv4.get(directory.name, [])
        attributes["ipv4_netmasks"] = masks.get(directory.name, {})
        interfaces[directory.name] = attributes
    raw: dict[str, str | bytes] = {INTERFACES: to_json(interfaces)}
    if (if_inet6 := read_text(under(proc, "net/if_inet6"))) is not None:
        raw[IF_INET6] = if_inet6
    return raw


def _ipv6(content: str) -> dict[str, list[tuple[str, int]]]:
    """Interface → stable IPv6 addresses and prefix lengths, from lines
    ``<32 hex> <index> <prefix> <scope> <flags> <name>``."""
    found: dict[str, list[tuple[str, int]]] = {}
    for line in content.splitlines():
        words = line.split()
        if len(words) != 6 or not re.fullmatch(r"[0-9a-f]{32}", words[0]):
            continue
        if int(words[4], 16) & _UNSTABLE_IPV6:
            continue
        address = ipaddress.IPv6Address(bytes.fromhex(words[0])).compressed
        found.setdefault(words[5], []).append((address, int(words[2], 16)))
    return found


def _mac(address: str | None) -> str | None:
    address = (address or "").lower()
    if not re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", address) or address == "00:00:00:00:00:00":
        return None
    return address


def _ipv4_networks(masks: dict[str, str | None]) -> list[str]:
    found = []
    for address, mask in sorted(masks.items()):
        try:
            found.append(ipaddress.IPv4Interface(f"{address}/{mask}").with_prefixlen)
        except ValueError:  # no netmask (point-to-point) or a malformed one
            continue
    return found


def parse(raw: Raw) -> dict[str, Any]:
    ipv6 = _ipv6(str(raw.get(IF_INET6, "")))
    interfaces = []
    for name, attributes in sorted((load_json(raw, INTERFACES) or {}).items()):
        if not attributes.get("device"):
            continue
        speed = attributes.get("speed", "")
        inet6 = sorted(ipv6.get(name, []))
        masks = attributes.get("ipv4_netmasks")
        interfaces.append(
            NetworkInterface(
                name=name,
                mac=_mac(attributes.get("address")),
                addresses=sorted(attributes.get("ipv4", [])) + [address for address, _ in inet6],
                networks=None
                if masks is None
                else _ipv4_networks(masks) + [f"{address}/{prefix}" for address, prefix in inet6],
                speed_mbps=int(speed) if speed.isdigit() and int(speed) > 0 else None,
                is_up=attributes["operstate"] == "up" if "operstate" in attributes else None,
                description=text(attributes.get("driver")),
            )
        )
    return {"network_interfaces": interfaces}
