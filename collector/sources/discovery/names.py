"""Names of hosts that answered a sweep: reverse DNS, NetBIOS node status (UDP 137), mDNS (UDP 5353).

Each is asked once per host and every answer must arrive within one shared deadline: a host
that answers none of them simply has no name. Queries go only to the hosts themselves (and, for
reverse DNS, to the system's resolver through the C library, which also reads /etc/hosts).
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import socket
import struct
import threading
import time
from collections.abc import Sequence

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.netbios import NBNSHeader, NBNSNodeStatusRequest

NETBIOS_PORT = 137
MDNS_PORT = 5353
DNS_WORKERS = 16
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)

Names = dict[str, dict[str, str]]
"""ip → source (``dns``, ``netbios``, ``mdns``) → name."""


def reverse_pointer(ip: str) -> str:
    """``10.2.3.4`` → ``4.3.2.10.in-addr.arpa``."""
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


def node_status_request(transaction: int) -> bytes:
    """An NBSTAT query for the wildcard name ``*`` (what ``nbtstat -A`` sends), unicast flags."""
    return bytes(NBNSHeader(NAME_TRN_ID=transaction, NM_FLAGS=0) / NBNSNodeStatusRequest())


def _skip_name(data: bytes, offset: int) -> int:
    """Offset after an encoded (possibly compressed) name."""
    while offset < len(data):
        length = data[offset]
        if length & 0xC0 == 0xC0:
            return offset + 2
        offset += 1 + length
        if length == 0:
            return offset
    raise ValueError("name runs past the end")


def parse_node_status(data: bytes, transaction: int) -> str | None:
    """The workstation name (unique name, suffix 0x00) from an NBSTAT answer (RFC 1002 4.2.18), or None.

    Pure; a malformed or foreign answer gives None, never an exception.
    """
    try:
        tid, flags, _qd, answers, _ns, _ar = struct.unpack_from(">6H", data)
        if tid != transaction or not flags & 0x8000 or answers < 1:
            return None
        offset = _skip_name(data, 12)
        rr_type, _rr_class, _ttl, _length = struct.unpack_from(">HHIH", data, offset)
        if rr_type != 0x21:
            return None
        offset += 10
        count = data[offset]
        offset += 1
        for index in range(count):
            entry = data[offset + 18 * index : offset + 18 * (index + 1)]
            if len(entry) < 18:
                return None
            name, suffix, name_flags = entry[:15], entry[15], struct.unpack(">H", entry[16:18])[0]
            if suffix == 0x00 and not name_flags & 0x8000:
                text = name.decode("ascii", "replace").strip(" \x00")
                return text or None
    except (struct.error, ValueError, IndexError):
        return None
    return None


def mdns_request(ip: str, transaction: int) -> bytes:
    """A one-shot (legacy unicast) mDNS question for the host's own reverse name."""
    return bytes(DNS(id=transaction, rd=0, qd=DNSQR(qname=reverse_pointer(ip), qtype="PTR")))


def parse_mdns(data: bytes, ip: str, transaction: int) -> str | None:
    """The host name (``printer.local``) from an mDNS answer to ``mdns_request``, or None. Pure."""
    try:
        message = DNS(data)
    except Exception:  # scapy raises anything on garbage; a bad answer is just no name
        return None
    if message.id != transaction or not message.qr:
        return None
    wanted = reverse_pointer(ip).lower()
    for record in message.an or []:
        rrname = (
            record.rrname.decode("ascii", "replace")
            if isinstance(record.rrname, bytes)
            else str(record.rrname)
        )
        if record.type == 12 and rrname.rstrip(".").lower() == wanted:
            rdata = (
                record.rdata.decode("ascii", "replace")
                if isinstance(record.rdata, bytes)
                else str(record.rdata)
            )
            return rdata.rstrip(".") or None
    return None


def _reverse_dns(ips: Sequence[str], found: Names, lock: threading.Lock) -> None:
    """getnameinfo for each address in daemon workers; whatever is not back by the deadline is dropped."""
    work: queue.SimpleQueue[str] = queue.SimpleQueue()
    for ip in ips:
        work.put(ip)

    def worker() -> None:
        while True:
            try:
                ip = work.get_nowait()
            except queue.Empty:
                return
            try:
                name = socket.getnameinfo((ip, 0), socket.NI_NAMEREQD)[0]
            except (OSError, UnicodeError):
                continue
            with lock:
                found.setdefault(ip, {})["dns"] = name

    for _ in range(min(DNS_WORKERS, len(ips))):
        threading.Thread(target=worker, daemon=True, name="discovery-rdns").start()


def _udp_socket(interface: str | None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    if interface:
        with contextlib.suppress(OSError):  # binding needs CAP_NET_RAW; without it routing still decides
            sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, interface.encode())
    return sock


def lookup_names(ips: Sequence[str], timeout: float, interface: str | None = None) -> Names:
    """Ask every address for its names at once; return what answered within ``timeout`` seconds."""
    if not ips:
        return {}
    deadline = time.monotonic() + timeout
    found: Names = {}
    lock = threading.Lock()
    _reverse_dns(ips, found, lock)
    transaction = int.from_bytes(os.urandom(2), "big")
    netbios, mdns = _udp_socket(interface), _udp_socket(interface)
    wanted = set(ips)
    try:
        for ip in ips:
            for sock, packet, port in (
                (netbios, node_status_request(transaction), NETBIOS_PORT),
                (mdns, mdns_request(ip, transaction), MDNS_PORT),
            ):
                with contextlib.suppress(OSError):  # an unreachable host costs only its own name
                    sock.sendto(packet, (ip, port))
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([netbios, mdns], [], [], left)
            for sock in readable:
                try:
                    data, (source, _port) = sock.recvfrom(4096)
                except OSError:  # ICMP port unreachable surfaces here as ECONNREFUSED
                    continue
                if source not in wanted:
                    continue
                name = (
                    parse_node_status(data, transaction)
                    if sock is netbios
                    else parse_mdns(data, source, transaction)
                )
                if name:
                    with lock:
                        found.setdefault(source, {})["netbios" if sock is netbios else "mdns"] = name
    finally:
        netbios.close()
        mdns.close()
    with lock:
        return {ip: dict(names) for ip, names in found.items()}
