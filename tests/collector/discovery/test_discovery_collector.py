"""Issue 5's acceptance end to end: a real ``dozor-collector serve`` runs inside the scanner's
namespace (its API listens on that namespace's loopback and is asked there with curl), sweeps the
namespace LAN with real packets, correlates what answers with the agents' PCs and a switch's
forwarding table kept in the same SQLite store, and records unknown devices, acceptance and moves.
The store is written from the test's side the way pollers and ingest write it."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from netaddr import EUI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from collector.cli import main as collector_main
from collector.sources.snmp.store import apply_poll
from collector.store.agents import enroll_agent
from collector.store.db import make_engine, make_sessionmaker, migrate
from collector.store.reports import apply_report
from tests import factories
from tests.collector.discovery.netlab import LAN, Lab

ADMIN_TOKEN = "admin-token-for-tests-0123456789"
PORT = 18470
PC_OFF, PC_ON = 0x11, 0x14
"""Agents' PCs (factories' MAC 3c:52:82:00:00:NN): firewall off on one, on on the other."""
HOSTS = {
    "pc1": (f"3c:52:82:00:00:{PC_OFF:02x}", f"{LAN}.11"),
    "pc4": (f"3c:52:82:00:00:{PC_ON:02x}", f"{LAN}.14"),
    "prn": ("00:1a:a0:00:00:12", f"{LAN}.12"),
}
LATE = ("00:1a:a0:00:00:15", f"{LAN}.15")
"""Plugged in after the first sweep: must show up as unknown."""
SWITCH = "10.99.0.2"


def switch_facts(pc1_port: int) -> dict[str, Any]:
    """The switch's SNMP facts: pc1 on Gi0/``pc1_port`` and pc4 on Gi0/14 (VLAN 10), the printer on
    Gi0/12 (VLAN 20)."""
    ports = {HOSTS["pc1"][0]: (pc1_port, 10), HOSTS["pc4"][0]: (14, 10), HOSTS["prn"][0]: (12, 20)}
    return {
        "system": {"name": "sw-2"},
        "interfaces": [{"if_index": n, "name": f"Gi0/{n}"} for n in range(1, 25)],
        "fdb": [
            {"mac": mac, "port": port, "if_index": port, "vlan": vlan, "status": "learned"}
            for mac, (port, vlan) in ports.items()
        ],
    }


def poll_switch(sessions: sessionmaker[Session], pc1_port: int) -> None:
    with sessions.begin() as session:
        apply_poll(session, SWITCH, "switch", "sw-2", switch_facts(pc1_port), datetime.now(UTC))


def add_pc(sessions: sessionmaker[Session], machine: int, firewall_on: bool) -> int:
    now = datetime.now(UTC)
    with sessions.begin() as session:
        device_id, _ = enroll_agent(session, factories.machine_id(machine), f"PC{machine}", now)
        inventory = factories.inventory(machine, package_count=3, firewall_on=firewall_on)
        apply_report(session, device_id, factories.report(machine, inv=inventory), now)
    return device_id


class Collector:
    """``dozor-collector serve`` inside the scanner namespace, asked through curl run there."""

    def __init__(self, lab: Lab, process: subprocess.Popen[str]) -> None:
        self.lab = lab
        self.process = process
        self.stderr = ""
        """The collector's log, once it has stopped."""

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        command = ["ip", "netns", "exec", self.lab.ns("scan"), "curl", "-s", "-X", method,
                   "-H", f"Authorization: Bearer {ADMIN_TOKEN}", "-w", "\n%{http_code}",
                   f"http://127.0.0.1:{PORT}{path}"]  # fmt: skip
        if body is not None:
            command += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        text, _, status = done.stdout.rpartition("\n")
        return int(status or 0), json.loads(text) if text.startswith(("{", "[")) else text

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, answer = self.call(method, path, body)
        assert status == 200, (path, status, answer)
        return answer

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        _, text = self.call("GET", "/metrics")
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name.startswith("dozor_discovery")
        }


@contextmanager
def collector_in_namespace(lab: Lab, config: Path, wrapper: tuple[str, ...] = ()) -> Iterator[Collector]:
    process = lab.popen("scan", "-m", "collector", "serve", "--config", str(config), wrapper=wrapper)
    running = Collector(lab, process)
    try:
        deadline = time.monotonic() + 30
        while running.call("GET", "/healthz")[0] != 200:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the collector did not start"
            time.sleep(0.1)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        running.stderr = stderr
        assert "Traceback" not in stderr, stderr


def write_config(folder: Path, **discovery: Any) -> Path:
    config = {
        "listen": f"127.0.0.1:{PORT}",
        "data_dir": str(folder),
        "database": {"url": f"sqlite+pysqlite:///{folder / 'dozor.sqlite3'}"},
        "auth": {"admin_token": ADMIN_TOKEN, "enrollment_secret": "enroll-secret-0123456789"},
        "discovery": {
            "interface": "eth0",
            "subnets": [f"{LAN}.0/25"],
            "rate_pps": 2000,
            "timeout": 0.5,
            "names": False,
            "interval_seconds": 3600,
            **discovery,
        },
    }
    path = folder / "collector.yaml"
    path.write_text(json.dumps(config))
    return path


def test_collector_discovers_accepts_and_maps_ports(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, (mac, ip) in HOSTS.items():
        lab.add_host(name, mac, ip)
    gateway = "02:00:00:00:00:01"  # pinned: a bridge takes its ports' lowest MAC, which a new port changes
    lab.ip("lan", "link", "set", "br0", "address", gateway)
    engine = make_engine(f"sqlite+pysqlite:///{tmp_path / 'dozor.sqlite3'}")
    migrate(engine)
    sessions = make_sessionmaker(engine)
    pc_off, pc_on = add_pc(sessions, PC_OFF, firewall_on=False), add_pc(sessions, PC_ON, firewall_on=True)
    poll_switch(sessions, pc1_port=11)
    config = write_config(tmp_path)

    with collector_in_namespace(lab, config) as collector:
        first = collector.ok("POST", "/api/v1/discovery/sweep")
        assert first["ran"] and first["error_kind"] is None
        assert first["sightings"] == 4, "the three hosts and the gateway, nothing else"
        discovered = collector.ok("GET", "/api/v1/lan/devices?kind=discovered")
        assert {d["mac"] for d in discovered} == {HOSTS["prn"][0], gateway}
        assert {d["mac"]: d["ip"] for d in discovered}[HOSTS["prn"][0]] == HOSTS["prn"][1]
        # The collector's own scheduled run (10 s after start) may come between the steps below, so
        # outcomes are read from the store, whichever run recorded them.

        # A host plugged in later: an unknown-device change event and metric.
        lab.add_host("late", *LATE)
        second = collector.ok("POST", "/api/v1/discovery/sweep")
        assert second["sightings"] == 5
        (late_id,) = [
            d["id"] for d in collector.ok("GET", "/api/v1/lan/devices?kind=discovered") if d["mac"] == LATE[0]
        ]
        vendor = EUI(LATE[0]).oui.registration().org
        changes = collector.ok("GET", f"/api/v1/hosts/{late_id}/changes")
        assert [c["summary"] for c in changes] == [f"unknown device {LATE[0]} ({vendor})"]
        assert changes[0]["source"] == "discovery"
        metrics = collector.metrics()
        assert metrics[("dozor_discovery_unknown_devices", ())] == 3
        late_series = {labels for name, labels in metrics if name == "dozor_discovery_unknown_device_info"}
        late_labels = {"device_id": str(late_id), "mac": LATE[0], "port": "", "switch": "", "vendor": vendor}
        assert tuple(sorted({**late_labels, "vlan": ""}.items())) in late_series
        assert metrics[("dozor_discovery_last_success_timestamp_seconds", ())] > time.time() - 60

        # Accepted by an administrator: known, who did it is recorded, the metric drops at once.
        accepted = collector.ok(
            "POST",
            f"/api/v1/devices/{late_id}/accept",
            {
                "by": "o.koval",
                "name": "Projector hall",
                "responsible_person": "O. Koval",
                "inventory_number": "101-77",
            },
        )
        assert (accepted["lifecycle"], accepted["name"], accepted["accepted_by"]) == (
            "accepted",
            "Projector hall",
            "o.koval (API, from 127.0.0.1)",
        )
        last = collector.ok("GET", f"/api/v1/hosts/{late_id}/changes")[0]  # newest first
        assert last["source"] == "admin" and last["summary"].startswith(
            "Accepted into operation by o.koval (API, from 127.0.0.1)"
        )
        assert collector.metrics()[("dozor_discovery_unknown_devices", ())] == 2
        assert collector.call("POST", "/api/v1/devices/999999/accept", {})[0] == 404
        assert collector.call("POST", f"/api/v1/devices/{late_id}/accept", {"colour": "red"})[0] == 422
        third = collector.ok("POST", "/api/v1/discovery/sweep")
        assert third["new_unknown"] == [] and third["unknown_present"] == 2

        # The switch's forwarding table now has pc1 on another port: a move event on the PC.
        poll_switch(sessions, pc1_port=18)
        fourth = collector.ok("POST", "/api/v1/discovery/sweep")
        move = (
            f"OBLRADA-PC{PC_OFF:04d} moved from switch sw-2 port Gi0/11, VLAN 10 "
            "to switch sw-2 port Gi0/18, VLAN 10"
        )
        assert fourth["ran"] and fourth["unknown_present"] == 2
        assert [
            c["summary"]
            for c in collector.ok("GET", f"/api/v1/hosts/{pc_off}/changes")
            if c["source"] == "discovery"
        ] == [move]

        # PCs on VLAN 10 with the firewall off, and on.
        off = collector.ok("GET", "/api/v1/lan/devices?vlan=10&firewall=off")
        assert [(d["id"], d["ports"][0]["port"], d["ports"][0]["switch"]) for d in off] == [
            (pc_off, "Gi0/18", "sw-2")
        ]
        assert [d["id"] for d in collector.ok("GET", "/api/v1/lan/devices?vlan=10&firewall=on")] == [pc_on]
        assert collector.ok("GET", "/api/v1/lan/devices?vlan=20")[0]["mac"] == HOSTS["prn"][0]

    # The command line works on the same store.
    assert (
        collector_main(["devices", "--config", str(config), "list", "--vlan", "10", "--firewall", "off"]) == 0
    )
    listing = capsys.readouterr().out.splitlines()
    assert (
        len(listing) == 2 and f"OBLRADA-PC{PC_OFF:04d}" in listing[1] and "sw-2 Gi0/18 vlan 10" in listing[1]
    )
    assert (
        collector_main(["devices", "--config", str(config), "retire", str(late_id), "--by", "i.petrenko"])
        == 0
    )
    shown = capsys.readouterr().out
    assert "(discovered, retired)" in shown and "retire by i.petrenko (command line)" in shown

    # Without CAP_NET_RAW: a named error in the answer, the log and the metrics; no traceback.
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop CAP_NET_RAW")
    with collector_in_namespace(lab, config, wrapper=("setpriv", "--bounding-set", "-net_raw")) as collector:
        failed = collector.ok("POST", "/api/v1/discovery/sweep")
        assert failed["error_kind"] == "no_cap_net_raw" and "CAP_NET_RAW" in failed["error_message"]
        assert collector.metrics()[("dozor_discovery_errors_total", (("error", "no_cap_net_raw"),))] == 1
    assert (
        "LAN sweep cannot run: the sweep sends raw ARP/ICMP packets and needs CAP_NET_RAW" in collector.stderr
    )
    engine.dispose()
