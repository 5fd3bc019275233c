"""Sweep the configured IPv4 subnets from one interface: ARP on the local segment, ICMP echo beyond it.

Why two methods: every IPv4 host on the segment must answer ARP to talk at all, so ARP finds them
all (firewalled PCs included) and gives their MAC. A host behind a router never sees our ARP; for
those subnets (a second floor routed through a core switch) only ICMP echo tells that something
lives at an address, and its MAC is unknowable from here (the switches' forwarding tables give it).

Safety: only addresses of the configured subnets are ever asked (an empty list asks nothing), a
subnet larger than ``max_prefix`` allows is refused, everything leaves through the named
interface only (ARP on a packet socket bound to it, ICMP on a raw socket with SO_BINDTODEVICE),
and the send rate is capped. Packets are built and dissected with scapy; the sockets are plain.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import threading
import time
from collections.abc import Iterable, Sequence

import msgspec
from netaddr import IPAddress, IPNetwork, IPSet
from scapy.arch import get_if_hwaddr
from scapy.config import conf
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether

from collector.sources.discovery.model import DiscoveryError, Sighting
from collector.sources.discovery.names import lookup_names
from collector.sources.discovery.subnets import parse_subnets
from collector.sources.discovery.vendor import is_locally_administered, vendor_of

ETH_P_ARP = 0x0806
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
DEFAULT_RATE_PPS = 500
"""Gentle for an office LAN: a /24 in half a second of broadcasts."""


class SweepConfig(msgspec.Struct, frozen=True, kw_only=True):
    """One sweep: which subnets, through which interface, how fast and how long to listen.

    ``subnets`` are CIDRs (a single address as ``/32`` asks only it: e.g. a projector behind a
    router). ``rate_pps`` caps every packet sent (ARP and ICMP together). ``timeout`` is how long to
    wait after the last request; ``retries`` re-asks addresses that did not answer. ``names``
    turns on reverse DNS, NetBIOS and mDNS for what answered, all within ``name_timeout``.
    """

    interface: str
    subnets: list[str]
    rate_pps: int = DEFAULT_RATE_PPS
    timeout: float = 1.0
    retries: int = 1
    max_prefix: int = 22
    names: bool = True
    name_timeout: float = 1.0


class SweepPlan(msgspec.Struct, frozen=True):
    """Addresses to ask, by method: on-link ones by ARP, routed ones by ICMP echo."""

    arp: list[str]
    icmp: list[str]


def plan_targets(subnets: Sequence[IPNetwork], on_link: Sequence[IPNetwork], own: Iterable[str]) -> SweepPlan:
    """Which address gets which method. Pure.

    Network and broadcast addresses of a subnet (and of the on-link network) and our own addresses
    are never asked; an address inside an on-link network is asked by ARP, any other by ICMP.
    """
    local = IPSet(on_link)
    skip = {IPAddress(a) for a in own}
    for network in [*subnets, *on_link]:
        if network.prefixlen <= 30:
            skip.update((network.network, network.broadcast))
    arp: list[str] = []
    icmp: list[str] = []
    seen: set[IPAddress] = set()
    for network in subnets:
        for address in network:
            if address in skip or address in seen:
                continue
            seen.add(address)
            (arp if address in local else icmp).append(str(address))
    return SweepPlan(arp=arp, icmp=icmp)


class _Interface(msgspec.Struct, frozen=True):
    name: str
    mac: str
    ip: str
    on_link: list[IPNetwork]


def _interface(name: str) -> _Interface:
    """The interface's MAC, IPv4 address and on-link networks, read fresh from the kernel."""
    conf.route.resync()
    try:
        mac = get_if_hwaddr(name)
    except (ValueError, OSError):
        raise DiscoveryError("no_such_interface", f"there is no network interface {name!r}") from None
    on_link, addresses = [], []
    for net, mask, gateway, iface, address, _metric in conf.route.routes:
        if iface != name or gateway != "0.0.0.0" or address in ("0.0.0.0", ""):
            continue
        network = IPNetwork(f"{IPAddress(net)}/{IPAddress(mask)}")
        if network.prefixlen < 32 and not network.is_multicast():
            on_link.append(network)
            addresses.append(address)
    if not addresses:
        raise DiscoveryError("interface_has_no_ipv4", f"interface {name!r} has no IPv4 network")
    return _Interface(name=name, mac=mac, ip=addresses[0], on_link=on_link)


def _check_routes(iface: _Interface, routed: Sequence[str]) -> None:
    """Routed targets must leave through the sweep's interface, or the sweep refuses to start."""
    for address in routed[:1] + routed[-1:]:
        out, _src, _gateway = conf.route.route(address)
        if out != iface.name:
            raise DiscoveryError(
                "not_via_interface",
                f"{address} is routed via {out!r}, not the sweep's interface {iface.name!r}",
            )


def _open_sockets(iface: _Interface, icmp: bool) -> tuple[socket.socket, socket.socket | None]:
    """A packet socket for ARP bound to the interface and a raw ICMP socket tied to it (if needed)."""
    opened: list[socket.socket] = []
    try:
        arp = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        opened.append(arp)
        arp.bind((iface.name, ETH_P_ARP))
        ping = None
        if icmp:
            ping = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            opened.append(ping)
            ping.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, iface.name.encode())
        return arp, ping
    except PermissionError:
        for sock in opened:
            sock.close()
        raise DiscoveryError(
            "no_cap_net_raw",
            "the sweep sends raw ARP/ICMP packets and needs CAP_NET_RAW "
            "(systemd: AmbientCapabilities=CAP_NET_RAW; or setcap cap_net_raw+ep on the Python binary)",
        ) from None
    except OSError as error:
        for sock in opened:
            sock.close()
        if error.errno == errno.ENODEV:
            raise DiscoveryError(
                "no_such_interface", f"there is no network interface {iface.name!r}"
            ) from None
        raise DiscoveryError("socket_error", f"cannot open a raw socket on {iface.name!r}: {error}") from None


class _Pacer:
    """At most ``rate`` sends per second, sleeping only when ahead by more than a few milliseconds."""

    def __init__(self, rate: int) -> None:
        self.interval = 1.0 / max(rate, 1)
        self.next_at = time.monotonic()

    def wait(self) -> None:
        ahead = self.next_at - time.monotonic()
        if ahead > 0.002:
            time.sleep(ahead)
        self.next_at = max(self.next_at, time.monotonic() - 0.01) + self.interval


class _Answers:
    """Replies gathered by the listener thread: (ip, mac) → receive time; ``mac`` ``None`` for ICMP."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[tuple[str, str | None], float] = {}
        self.ips: set[str] = set()

    def add(self, ip: str, mac: str | None) -> None:
        with self.lock:
            self.seen.setdefault((ip, mac), time.monotonic())
            self.ips.add(ip)


def _listen(
    arp: socket.socket,
    ping: socket.socket | None,
    iface: _Interface,
    plan: SweepPlan,
    ident: int,
    answers: _Answers,
    stop: threading.Event,
) -> None:
    """Collect ARP replies to us from asked addresses and echo replies carrying our identifier."""
    arp_targets, icmp_targets = set(plan.arp), set(plan.icmp)
    sockets = [s for s in (arp, ping) if s is not None]
    while not stop.is_set():
        readable, _, _ = select.select(sockets, [], [], 0.05)
        for sock in readable:
            data = sock.recv(65535)
            if sock is arp:
                frame = Ether(data)
                reply = frame.getlayer(ARP)
                if (
                    reply is not None
                    and reply.op == 2
                    and reply.pdst == iface.ip
                    and reply.psrc in arp_targets
                ):
                    answers.add(reply.psrc, str(reply.hwsrc).lower())
            else:
                packet = IP(data)
                echo = packet.getlayer(ICMP)
                if echo is not None and echo.type == 0 and echo.id == ident and packet.src in icmp_targets:
                    answers.add(packet.src, None)


def sweep(config: SweepConfig) -> list[Sighting]:
    """Ask every configured address once (plus ``retries`` for the silent), listen, then name them.

    Raises ``DiscoveryError`` for configuration and permission problems before sending anything.
    """
    subnets = parse_subnets(config.subnets, config.max_prefix)
    if not subnets:
        return []
    iface = _interface(config.interface)
    plan = plan_targets(subnets, iface.on_link, [iface.ip])
    if plan.icmp:
        _check_routes(iface, plan.icmp)
    arp, ping = _open_sockets(iface, bool(plan.icmp))
    ident = (os.getpid() ^ int(time.time())) & 0xFFFF
    answers, stop = _Answers(), threading.Event()
    listener = threading.Thread(
        target=_listen, args=(arp, ping, iface, plan, ident, answers, stop), daemon=True, name="sweep-listen"
    )
    listener.start()
    sent_at: dict[str, float] = {}
    try:
        pacer = _Pacer(config.rate_pps)
        arp_frames = {
            ip: bytes(
                Ether(src=iface.mac, dst="ff:ff:ff:ff:ff:ff")
                / ARP(op=1, hwsrc=iface.mac, psrc=iface.ip, pdst=ip)
            )
            for ip in plan.arp
        }
        for attempt in range(config.retries + 1):
            with answers.lock:
                silent = [ip for ip in (*plan.arp, *plan.icmp) if ip not in answers.ips]
            if not silent:
                break
            if attempt:
                time.sleep(min(0.3, config.timeout))
            for seq, ip in enumerate(silent):
                pacer.wait()
                sent_at[ip] = time.monotonic()
                try:
                    if ip in arp_frames:
                        arp.send(arp_frames[ip])
                    elif ping is not None:
                        ping.sendto(bytes(ICMP(type=8, id=ident, seq=seq) / b"dozor-discovery"), (ip, 0))
                except OSError as error:  # a full queue or an unreachable route costs that address only
                    if error.errno not in (
                        errno.ENOBUFS,
                        errno.EHOSTUNREACH,
                        errno.ENETUNREACH,
                        errno.EAGAIN,
                    ):
                        raise DiscoveryError("socket_error", f"sending to {ip} failed: {error}") from None
        deadline = time.monotonic() + config.timeout
        targets = len(plan.arp) + len(plan.icmp)
        while time.monotonic() < deadline and len(answers.ips) < targets:
            time.sleep(0.02)
    finally:
        stop.set()
        listener.join()
        arp.close()
        if ping is not None:
            ping.close()
    with answers.lock:
        found = sorted(answers.seen.items(), key=lambda item: (IPAddress(item[0][0]), item[0][1] or ""))
    names = (
        lookup_names([ip for (ip, _mac), _t in found], config.name_timeout, iface.name)
        if config.names
        else {}
    )
    return [
        Sighting(
            ip=ip,
            mac=mac,
            vendor=vendor_of(mac) if mac else None,
            randomized=is_locally_administered(mac) if mac else False,
            names=names.get(ip, {}),
            method="arp" if mac else "icmp",
            rtt_ms=round((received - sent_at[ip]) * 1000, 3) if received >= sent_at[ip] else None,
        )
        for (ip, mac), received in found
    ]
