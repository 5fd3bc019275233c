"""The running collector polls its configured SNMP devices: snmpsim serves a printer, a switch and a
UPS (real recordings; community = file name) and one device sits on a closed UDP port. Within
seconds the API lists all four, the dead one with a named error, and /metrics shows them."""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.collector.live_server import make_config, run_collector, wait_for
from tests.collector.snmp import conftest as snmp_fixtures
from tests.collector.snmp.conftest import Simulator, free_udp_port
from tests.promtool import promtool

snmpsim = snmp_fixtures.snmpsim
"""The session's snmpsim serving the recordings on 127.0.0.1 (shared with the SNMP tests)."""

RECORDINGS = {"printer": "sharp", "switch": "XMG1915-10EP", "ups": "netagent2"}


@contextmanager
def udp_forwarders(upstream: int, count: int) -> Iterator[list[int]]:
    """``count`` UDP ports on 127.0.0.1 relaying to ``upstream`` (and the answers back), so that each
    recording is a device with its own address:port, as devices in an office are."""
    selector = selectors.DefaultSelector()
    sockets: list[socket.socket] = []
    ports = []
    for _ in range(count):
        front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        front.bind(("127.0.0.1", 0))
        back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        back.connect(("127.0.0.1", upstream))
        client: dict[str, tuple[str, int]] = {}
        selector.register(front, selectors.EVENT_READ, ("front", back, client))
        selector.register(back, selectors.EVENT_READ, ("back", front, client))
        sockets += [front, back]
        ports.append(front.getsockname()[1])
    stop = threading.Event()

    def relay() -> None:
        while not stop.is_set():
            for key, _ in selector.select(timeout=0.1):
                side, other, client = key.data
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    if side == "front":
                        data, client["address"] = sock.recvfrom(65535)
                        other.send(data)
                    else:
                        other.sendto(sock.recv(65535), client["address"])
                except OSError:
                    pass

    thread = threading.Thread(target=relay, daemon=True)
    thread.start()
    try:
        yield ports
    finally:
        stop.set()
        thread.join(timeout=5)
        for sock in sockets:
            sock.close()
        selector.close()


def test_collector_polls_configured_devices(snmpsim: Simulator, tmp_path: Path) -> None:
    dead_port = free_udp_port()
    with udp_forwarders(snmpsim.port, len(RECORDINGS)) as ports:
        by_port = dict(zip(ports, RECORDINGS.items(), strict=True))
        devices = "".join(
            f"    - {{address: 127.0.0.1, port: {port}, credential: {name}, kind: {kind},"
            f" name: {kind}-{name}, location: Room {index}, group: HQ}}\n"
            for index, (port, (kind, name)) in enumerate(by_port.items())
        )
        credentials = "".join(f"    {name}: {{community: {name}}}\n" for name in RECORDINGS.values())
        config = make_config(
            tmp_path / "collector",
            f"sqlite:///{tmp_path / 'dozor.sqlite3'}",
            "snmp:\n"
            "  interval_seconds: 10\n  timeout_seconds: 1\n  retries: 0\n"
            f"  credentials:\n{credentials}    dead: {{community: public}}\n"
            f"  devices:\n{devices}"
            f"    - {{address: 127.0.0.1, port: {dead_port}, credential: dead, name: gone}}\n",
        )
        with run_collector(config) as live, live.admin() as admin:

            def all_polled() -> list[dict] | None:
                listed = admin.get("/api/v1/devices").json()
                done = [d for d in listed if d["last_success_at"] or d["last_error"]]
                return listed if len(done) == 4 else None

            listed = wait_for(all_polled, 30, "four devices polled")
            by_name = {device["name"]: device for device in listed}
            assert set(by_name) == {"printer-sharp", "switch-XMG1915-10EP", "ups-netagent2", "gone"}
            for kind, name in RECORDINGS.items():
                device = by_name[f"{kind}-{name}"]
                assert device["kind"] == kind
                assert device["last_success_at"] and device["up"] is True, device
                assert device["last_error"] is None
                assert device["group"] == "HQ" and device["location"].startswith("Room ")
            dead = by_name["gone"]
            assert dead["last_success_at"] is None and dead["up"] is False
            assert dead["last_error"]["kind"] == "timeout", dead

            printer_id = by_name["printer-sharp"]["id"]
            printer = admin.get(f"/api/v1/devices/{printer_id}").json()
            assert printer["facts"]["supplies"] and printer["facts"]["printer"]["model"]
            levels = {supply["name"]: supply["percent"] for supply in printer["supplies"]}
            assert len(levels) == len(printer["facts"]["supplies"]), "one named entry per supply"
            history = admin.get(f"/api/v1/devices/{printer_id}/supplies/history?days=7").json()
            sampled = {entry["supply"]: entry["samples"][-1][1] for entry in history}
            assert sampled and sampled == {name: p for name, p in levels.items() if p is not None}
            assert all(entry["empty_at"] is None for entry in history), "one poll is no consumption rate"
            assert admin.get(f"/api/v1/devices/{printer_id}/supplies/history?days=0").status_code == 422
            switch = admin.get(f"/api/v1/devices/{by_name['switch-XMG1915-10EP']['id']}").json()
            assert switch["interfaces"] and {nic["in_bps"] for nic in switch["interfaces"]} == {None}
            assert admin.get("/api/v1/devices/999999").status_code == 404
            assert live.client().get("/api/v1/devices").status_code == 401

            text = live.client().get("/metrics").text
            changes = admin.get("/api/v1/changes").json()

    families = {family.name: family for family in text_string_to_metric_families(text)}
    ids = {name: str(device["id"]) for name, device in by_name.items()}

    def series(family: str, device: str) -> list:
        return [s for s in families[family].samples if s.labels.get("device_id") == ids[device]]

    assert [s.value for s in series("dozor_device_up", "gone")] == [0]
    assert [s.labels["error"] for s in series("dozor_device_poll_errors", "gone")] == ["timeout"]
    for name in ("printer-sharp", "switch-XMG1915-10EP", "ups-netagent2"):
        assert [s.value for s in series("dozor_device_up", name)] == [1]
    assert any(0 < s.value < 1 for s in series("dozor_printer_supply_level_ratio", "printer-sharp"))
    assert series("dozor_interface_up", "switch-XMG1915-10EP")
    assert series("dozor_interface_receive_bytes", "switch-XMG1915-10EP")
    assert [s.value for s in series("dozor_ups_battery_charge_ratio", "ups-netagent2")] == [1.0]
    result = promtool("check", "metrics", stdin=text)
    assert result.returncode == 0, result.stdout + result.stderr

    first_seen = {c["device_id"] for c in changes if c["kind"] == "added" and c["subject"] == "inventory"}
    assert first_seen == {by_name[f"{kind}-{name}"]["id"] for kind, name in RECORDINGS.items()}
