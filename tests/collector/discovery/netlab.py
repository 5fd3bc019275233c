"""A LAN made of network namespaces, for sweeping with real packets that can never leave it.

Layout (every name carries a per-run prefix, so parallel runs do not collide):

    <p>scan  scanner, 10.77.0.2/24 on eth0 ─┐
    <p>hN    hosts,   10.77.0.x/24 on eth0 ─┼─ bridge br0 in <p>lan (10.77.0.1/24, routes between the two)
                                            │
    <p>far   a host behind the router: 10.78.0.10/24 ─ <p>lan's "far0" (10.78.0.1/24)

The namespaces are linked only to each other: no interface of the machine's own namespace is
created or touched, so nothing a sweep sends can reach a real network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.conftest import REPO_ROOT

LAN, FAR = "10.77.0", "10.78.0"
ETC_NETNS = Path("/etc/netns")


def netns_unavailable() -> str | None:
    """Why namespaces cannot be used here, or None when they can (root and iproute2 with netns)."""
    if sys.platform != "linux":
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    if shutil.which("ip") is None:
        return "iproute2 ('ip') is not installed"
    probe = f"dzprobe{os.getpid()}"
    added = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if added.returncode != 0:
        return f"'ip netns add' fails here: {added.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class Lab:
    """The namespaces of one test run; ``close()`` deletes every one it created, whatever happened."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.namespaces: list[str] = []
        self.ports = 0

    def ns(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def run(self, *command: str) -> str:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
        return done.stdout

    def ip(self, namespace: str, *command: str) -> None:
        self.run("ip", "-n", self.ns(namespace), *command)

    def add_namespace(self, name: str) -> None:
        self.run("ip", "netns", "add", self.ns(name))
        self.namespaces.append(self.ns(name))
        self.ip(name, "link", "set", "lo", "up")
        # IPv6 off: its router solicitations would be traffic the sweep did not send.
        self.run("ip", "netns", "exec", self.ns(name), "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                 "net.ipv6.conf.default.disable_ipv6=1")  # fmt: skip

    def build(self) -> None:
        """The bridge/router, the scanner and the host behind the router."""
        self.add_namespace("lan")
        self.ip("lan", "link", "add", "br0", "type", "bridge")
        self.ip("lan", "addr", "add", f"{LAN}.1/24", "dev", "br0")
        self.ip("lan", "link", "set", "br0", "up")
        self.run("ip", "netns", "exec", self.ns("lan"), "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.add_host("scan", "02:00:00:00:00:02", f"{LAN}.2")
        self.add_namespace("far")
        self.run(
            "ip", "link", "add", "far0", "netns", self.ns("lan"), "type", "veth",
            "peer", "name", "eth0", "netns", self.ns("far"), "address", "00:1a:a0:78:00:0a",
        )  # fmt: skip
        self.ip("lan", "addr", "add", f"{FAR}.1/24", "dev", "far0")
        self.ip("lan", "link", "set", "far0", "up")
        self.ip("far", "addr", "add", f"{FAR}.10/24", "dev", "eth0")
        self.ip("far", "link", "set", "eth0", "up")
        self.ip("far", "route", "add", "default", "via", f"{FAR}.1")
        self.ip("scan", "route", "add", f"{FAR}.0/24", "via", f"{LAN}.1")

    def add_host(self, name: str, mac: str, ip: str) -> None:
        """A namespace on the bridge with one interface ``eth0`` of the given MAC and address."""
        self.add_namespace(name)
        self.ports += 1
        port = f"p{self.ports}"
        self.run(
            "ip", "link", "add", port, "netns", self.ns("lan"), "type", "veth",
            "peer", "name", "eth0", "netns", self.ns(name), "address", mac,
        )  # fmt: skip
        self.ip("lan", "link", "set", port, "master", "br0", "up")
        self.ip(name, "addr", "add", f"{ip}/24", "dev", "eth0")
        self.ip(name, "link", "set", "eth0", "up")
        self.ip(name, "route", "add", "default", "via", f"{LAN}.1")

    def set_hosts_file(self, namespace: str, entries: dict[str, str]) -> None:
        """/etc/hosts and resolv.conf seen inside ``namespace`` (``ip netns exec`` mounts them): names
        resolve from the file, and DNS goes to the namespace's own loopback (refused at once)."""
        folder = ETC_NETNS / self.ns(namespace)
        folder.mkdir(parents=True, exist_ok=True)
        lines = ["127.0.0.1 localhost", *(f"{ip} {name}" for ip, name in entries.items())]
        (folder / "hosts").write_text("\n".join(lines) + "\n")
        (folder / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")

    def popen(
        self, namespace: str, *args: str, wrapper: Sequence[str] = (), **kwargs: object
    ) -> subprocess.Popen[str]:
        """This venv's Python running ``args`` in ``namespace`` (under ``wrapper``), from the repo root."""
        return subprocess.Popen(
            ["ip", "netns", "exec", self.ns(namespace), *wrapper, sys.executable, *args],
            cwd=REPO_ROOT,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **kwargs,  # type: ignore[arg-type]
        )

    def close(self) -> None:
        for namespace in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
            shutil.rmtree(ETC_NETNS / namespace, ignore_errors=True)
        self.namespaces.clear()
