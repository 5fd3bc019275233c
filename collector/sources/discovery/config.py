"""The ``discovery`` section: which subnets to sweep, through which interface, how fast."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from collector.config_base import ConfigError, Section
from collector.sources.discovery.model import DiscoveryError
from collector.sources.discovery.subnets import parse_subnets


class DiscoveryConfig(Section):
    """LAN discovery: an ARP/ICMP sweep of the listed subnets, matched with the switches'
    forwarding tables and the agents' interfaces (``collector.sources.discovery``)."""

    interface: Annotated[str, Meta(min_length=1, max_length=15)] | None = None
    """The network interface the sweep sends through (needed when ``subnets`` is not empty)."""
    subnets: list[Annotated[str, Meta(min_length=1, max_length=43)]] = msgspec.field(default_factory=list)
    """IPv4 CIDRs to sweep; nothing else is ever sent to. Empty: no sweep and no discovery."""
    rate_pps: Annotated[int, Meta(ge=1, le=10_000)] = 500
    """Most packets sent per second (ARP and ICMP together)."""
    timeout: Annotated[float, Meta(gt=0, le=30)] = 1.0
    """Seconds to listen after the last request."""
    retries: Annotated[int, Meta(ge=0, le=5)] = 1
    max_prefix: Annotated[int, Meta(ge=16, le=32)] = 22
    """A subnet larger than /max_prefix is refused (a typo must not sweep a /8)."""
    names: bool = True
    """Ask what answered for its name: reverse DNS, NetBIOS, mDNS."""
    name_timeout: Annotated[float, Meta(gt=0, le=30)] = 1.0
    interval_seconds: Annotated[float, Meta(ge=60, le=7 * 86_400)] = 900.0
    """How often the LAN is swept and the port map recorded."""
    many_macs: Annotated[int, Meta(ge=2, le=10_000)] = 10
    """MACs on one switch port from which it counts as an uplink, not an access port."""
    auto_accept: bool = True
    """Agents' PCs and configured SNMP/SSH devices are accepted into operation when first
    registered; false: they wait, like devices found on the LAN, for an administrator."""


def check(discovery: DiscoveryConfig) -> None:
    """A sweep needs its interface, and subnets that parse and are not too large."""
    if not discovery.subnets:
        return
    if discovery.interface is None:
        raise ConfigError("discovery.interface: needed when discovery.subnets is not empty")
    try:
        parse_subnets(discovery.subnets, discovery.max_prefix)
    except DiscoveryError as exc:
        raise ConfigError(f"discovery.subnets: {exc.message}") from None
