"""Peers run inside the test namespaces (``ip netns exec NS python -m tests.collector.discovery.peers``).

``sniff IFACE MAC``: records what the station ``MAC`` sends on ``IFACE`` (ARP targets, IPv4
destinations) until stdin closes, then prints it as JSON: the proof of where a sweep sent packets.
``respond NAME``: answers NetBIOS node status (UDP 137) and mDNS reverse lookups (UDP 5353) with
``NAME``. Its packets are encoded here by hand from RFC 1002 / RFC 6762, independently of scapy
(which the collector uses), so a mistake in either side shows.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import sys
import threading

ETH_P_ALL = 0x0003


def sniff(interface: str, station: str) -> None:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((interface, ETH_P_ALL))
    station_bytes = bytes.fromhex(station.replace(":", ""))
    arp_targets: set[str] = set()
    ip_destinations: set[str] = set()
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    while not stop.is_set():
        readable, _, _ = select.select([sock], [], [], 0.05)
        if not readable:
            continue
        frame = sock.recv(65535)
        if frame[6:12] != station_bytes:
            continue
        ethertype = struct.unpack(">H", frame[12:14])[0]
        if ethertype == 0x0806:
            arp_targets.add(socket.inet_ntoa(frame[38:42]))
        elif ethertype == 0x0800:
            ip_destinations.add(socket.inet_ntoa(frame[30:34]))
    print(json.dumps({"arp_targets": sorted(arp_targets), "ip_destinations": sorted(ip_destinations)}))


def _first_level(raw: bytes) -> bytes:
    """RFC 1001 14.1: each of the 16 bytes as two letters 'A' + nibble, as one 32-byte label."""
    return b"\x20" + b"".join(bytes([0x41 + (b >> 4), 0x41 + (b & 0x0F)]) for b in raw) + b"\x00"


def node_status_answer(request: bytes, name: str) -> bytes:
    """RFC 1002 4.2.18: group name WORKGROUP<00> first (must be skipped), then NAME<00>, NAME<20>."""
    transaction = request[:2]
    names = [("WORKGROUP", 0x00, 0x8400), (name, 0x00, 0x0400), (name, 0x20, 0x0400)]
    body = (
        bytes([len(names)])
        + b"".join(
            n.upper().ljust(15).encode() + bytes([suffix]) + struct.pack(">H", flags)
            for n, suffix, flags in names
        )
        + b"\x00" * 46
    )
    header = transaction + struct.pack(">5H", 0x8400, 0, 1, 0, 0)
    rr_name = _first_level(b"*" + b"\x00" * 15)
    return header + rr_name + struct.pack(">HHIH", 0x21, 1, 0, len(body)) + body


def _labels(name: str) -> bytes:
    return b"".join(bytes([len(part)]) + part.encode() for part in name.rstrip(".").split(".")) + b"\x00"


def mdns_answer(request: bytes, name: str) -> bytes | None:
    """A PTR answer to a one-question query for our reverse name, echoing the question (RFC 6762 6.7)."""
    transaction = request[:2]
    question_end = request.index(b"\x00", 12) + 5
    question = request[12:question_end]
    rdata = _labels(name)
    answer = question[:-4] + struct.pack(">HHIH", 12, 1, 120, len(rdata)) + rdata
    return transaction + struct.pack(">5H", 0x8400, 1, 1, 0, 0) + question + answer


def respond(name: str) -> None:
    netbios = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    netbios.bind(("0.0.0.0", 137))
    mdns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    mdns.bind(("0.0.0.0", 5353))
    print("ready", flush=True)
    while True:
        readable, _, _ = select.select([netbios, mdns], [], [])
        for sock in readable:
            request, peer = sock.recvfrom(4096)
            reply = (
                node_status_answer(request, name)
                if sock is netbios
                else mdns_answer(request, f"{name}.local")
            )
            if reply:
                sock.sendto(reply, peer)


if __name__ == "__main__":
    if sys.argv[1] == "sniff":
        sniff(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "respond":
        respond(sys.argv[2])
