"""A MAC's maker from the IEEE registry that netaddr ships (updated with the package, never by hand)."""

from __future__ import annotations

from functools import lru_cache

from netaddr import EUI, AddrFormatError, NotRegisteredError


def is_locally_administered(mac: str) -> bool:
    """The U/L bit of the first octet: set on randomised (private) and virtual MACs, which have no maker."""
    return bool(int(mac[:2], 16) & 0x02)


def is_multicast(mac: str) -> bool:
    """The I/G bit of the first octet: group addresses (broadcast, STP, LLDP) are never a host."""
    return bool(int(mac[:2], 16) & 0x01)


@lru_cache(maxsize=65536)
def vendor_of(mac: str) -> str | None:
    """The organisation registered for the MAC's OUI, or ``None`` (unregistered, local, malformed)."""
    try:
        if is_locally_administered(mac):
            return None
        return str(EUI(mac).oui.registration().org).strip() or None
    except (AddrFormatError, NotRegisteredError, ValueError, IndexError):
        return None
