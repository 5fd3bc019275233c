"""What discovery produces and how it fails: plain structs, so the store and the API take them as-is."""

from __future__ import annotations

from typing import Literal

import msgspec

ErrorKind = Literal[
    "no_cap_net_raw",
    "no_such_interface",
    "interface_has_no_ipv4",
    "bad_subnet",
    "subnet_too_large",
    "not_via_interface",
    "socket_error",
]

Method = Literal["arp", "icmp"]


class DiscoveryError(Exception):
    """A named failure of a sweep; ``kind`` is a stable label for logs, metrics and the API."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind: ErrorKind = kind
        self.message = message


class Sighting(msgspec.Struct, frozen=True, kw_only=True):
    """One host that answered a sweep.

    ``mac`` is ``None`` for hosts behind a router (seen by ICMP echo only: their MAC never reaches
    us). ``randomized`` marks a locally administered MAC (phones' private addresses, VMs), whose
    vendor cannot be known. ``names`` maps the source (``dns``, ``netbios``, ``mdns``) to the name
    it gave; ``rtt_ms`` is the time from our last request to the first answer.
    """

    ip: str
    mac: str | None
    vendor: str | None = None
    randomized: bool = False
    names: dict[str, str] = msgspec.field(default_factory=dict)
    method: Method = "arp"
    rtt_ms: float | None = None
