"""The configured subnets, checked: pure (no scapy), so the config can be validated without it."""

from __future__ import annotations

from collections.abc import Iterable

from netaddr import AddrFormatError, IPNetwork

from collector.sources.discovery.model import DiscoveryError


def parse_subnets(subnets: Iterable[str], max_prefix: int) -> list[IPNetwork]:
    """Configured CIDRs → networks; anything not IPv4 or larger than ``/max_prefix`` is refused."""
    networks = []
    for text in subnets:
        try:
            network = IPNetwork(text.strip())
        except (AddrFormatError, ValueError, TypeError):
            raise DiscoveryError(
                "bad_subnet", f"{text!r} is not a subnet in CIDR form (10.1.2.0/24)"
            ) from None
        if network.version != 4:
            raise DiscoveryError("bad_subnet", f"{text!r}: only IPv4 subnets can be swept")
        if network.prefixlen < max_prefix:
            raise DiscoveryError(
                "subnet_too_large",
                f"{text!r} has {network.size} addresses; split it into /{max_prefix} or smaller subnets",
            )
        networks.append(network)
    return networks
