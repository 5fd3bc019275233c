"""Sweeps with real packets inside test namespaces, and the pure planning that decides what is asked."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
from netaddr import EUI, IPNetwork

from collector.sources.discovery.model import DiscoveryError
from collector.sources.discovery.subnets import parse_subnets
from collector.sources.discovery.sweep import plan_targets
from tests.collector.discovery.netlab import FAR, LAN, Lab

SCANNER_MAC = "02:00:00:00:00:02"
HOSTS = {  # real OUIs: HP, Dell, Cisco; one locally administered (a phone's private MAC)
    "h1": ("3c:52:82:00:00:11", f"{LAN}.11"),
    "h2": ("00:1a:a0:00:00:12", f"{LAN}.12"),
    "h3": ("a8:b1:d4:00:00:13", f"{LAN}.13"),
    "h4": ("06:11:22:33:44:55", f"{LAN}.14"),
}
OUTSIDE = ("3c:52:82:00:00:c8", f"{LAN}.200")
"""A live host outside the configured subnets: it must be neither asked nor found."""
SUBNETS = [f"{LAN}.0/25", f"{FAR}.10/32"]


def run_sweep(lab: Lab, *extra: str, subnets: list[str] = SUBNETS) -> subprocess.CompletedProcess[str]:
    process = lab.popen(
        "scan", "-m", "collector.sources.discovery", "sweep", "--interface", "eth0",
        *(arg for subnet in subnets for arg in ("--subnet", subnet)),
        "--rate", "2000", "--timeout", "0.5", "--name-timeout", "0.5", *extra,
    )  # fmt: skip
    stdout, stderr = process.communicate(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def sightings(lab: Lab) -> dict[str, dict[str, Any]]:
    done = run_sweep(lab)
    assert done.returncode == 0, done.stderr
    return {s["ip"]: s for s in json.loads(done.stdout)["sightings"]}


def test_sweep_finds_exactly_the_hosts_and_a_new_one(lab: Lab) -> None:
    for name, (mac, ip) in HOSTS.items():
        lab.add_host(name, mac, ip)
    lab.add_host("out", *OUTSIDE)
    lab.set_hosts_file("scan", {HOSTS["h1"][1]: "buh-pc-11.rada.local"})
    responder = lab.popen("h2", "-m", "tests.collector.discovery.peers", "respond", "KANC-PC12")
    sniffer = lab.popen("lan", "-m", "tests.collector.discovery.peers", "sniff", "p1", SCANNER_MAC,
                        stdin=subprocess.PIPE)  # fmt: skip
    try:
        assert responder.stdout.readline().strip() == "ready"
        assert sniffer.stdout.readline().strip() == "ready"
        found = sightings(lab)
        sent, _ = sniffer.communicate("", timeout=10)
    finally:
        responder.kill()
        sniffer.kill()
        responder.communicate()

    gateway_mac = json.loads(lab.run("ip", "-n", lab.ns("lan"), "-j", "link", "show", "br0"))[0]["address"]
    expected = {ip: mac for mac, ip in HOSTS.values()} | {f"{LAN}.1": gateway_mac, f"{FAR}.10": None}
    assert {ip: s["mac"] for ip, s in found.items()} == expected
    for mac, ip in HOSTS.values():
        registered = EUI(mac).oui.registration().org if not int(mac[:2], 16) & 2 else None
        assert found[ip]["vendor"] == registered
        assert found[ip]["randomized"] is (registered is None)
        assert found[ip]["method"] == "arp" and found[ip]["rtt_ms"] is not None
    assert found[HOSTS["h3"][1]]["vendor"].startswith("Cisco")
    far = found[f"{FAR}.10"]
    assert (far["method"], far["vendor"], far["randomized"]) == ("icmp", None, False)
    assert found[HOSTS["h1"][1]]["names"] == {"dns": "buh-pc-11.rada.local"}
    assert found[HOSTS["h2"][1]]["names"] == {"netbios": "KANC-PC12", "mdns": "KANC-PC12.local"}

    # Everything the scanner put on the wire went to configured addresses only.
    wire = json.loads(sent)
    allowed = {str(a) for subnet in SUBNETS for a in IPNetwork(subnet)}
    assert wire["arp_targets"] and set(wire["arp_targets"]) <= allowed
    assert set(wire["ip_destinations"]) <= allowed
    assert OUTSIDE[1] not in wire["arp_targets"]

    lab.add_host("h5", "00:1a:a0:00:00:15", f"{LAN}.15")
    again = sightings(lab)
    assert again.keys() - found.keys() == {f"{LAN}.15"}
    assert again[f"{LAN}.15"]["vendor"] == EUI("00:1a:a0:00:00:15").oui.registration().org


def test_sweep_without_cap_net_raw_names_the_capability(lab: Lab) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop CAP_NET_RAW")
    process = lab.popen(
        "scan", "-m", "collector.sources.discovery", "sweep",
        "--interface", "eth0", "--subnet", f"{LAN}.0/28",
        wrapper=("setpriv", "--bounding-set", "-net_raw"),
    )  # fmt: skip
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 2 and stdout == ""
    assert stderr.startswith("dozor-discovery: no_cap_net_raw: ") and "needs CAP_NET_RAW" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("arguments", "kind"),
    [
        (["--subnet", f"{LAN}.0/21"], "subnet_too_large"),
        (["--subnet", "10.77.0.0/33"], "bad_subnet"),
        (["--subnet", "fd00::/120"], "bad_subnet"),
        (["--subnet", f"{LAN}.0/28", "--interface", "nosuch0"], "no_such_interface"),
    ],
)
def test_bad_sweep_configuration_is_a_named_error(lab: Lab, arguments: list[str], kind: str) -> None:
    process = lab.popen(
        "scan", "-m", "collector.sources.discovery", "sweep", "--interface", "eth0", *arguments
    )  # fmt: skip
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert stderr.startswith(f"dozor-discovery: {kind}: ") and "Traceback" not in stderr


def test_plan_asks_only_configured_addresses_by_the_right_method() -> None:
    on_link = [IPNetwork(f"{LAN}.0/24")]
    plan = plan_targets(
        parse_subnets([f"{LAN}.0/30", f"{LAN}.0/30", f"{FAR}.8/30"], 22), on_link, [f"{LAN}.2"]
    )
    assert plan.arp == [f"{LAN}.1"]  # .0 network, .2 ourselves, .3 broadcast of the /30
    assert plan.icmp == [f"{FAR}.9", f"{FAR}.10"]
    assert plan_targets([], on_link, []).arp == []
    single = plan_targets(parse_subnets([f"{FAR}.10/32"], 22), on_link, [])
    assert (single.arp, single.icmp) == ([], [f"{FAR}.10"])


def test_subnet_cap_is_configurable() -> None:
    assert len(parse_subnets([f"{LAN}.0/22"], 22)) == 1
    with pytest.raises(DiscoveryError) as error:
        parse_subnets([f"{LAN}.0/22"], 24)
    assert error.value.kind == "subnet_too_large" and "/24" in error.value.message
