"""Every dashboard query and alert rule against real data: Debian's Prometheus scrapes a running
collector (PostgreSQL store) that two agents' reports (through the HTTP API) and three snmpsim
devices (printer, switch, UPS) plus one dead device feed. Each dashboard variable must list values,
each PromQL expression must be accepted by Prometheus' query API and return series unless it is in
the justified list of ones expected empty, and each SQL panel query must run on the store and
return rows."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import URL, Engine, select, text

from collector.store.db import make_engine
from collector.store.models import SupplySample
from tests import factories
from tests.collector import conftest as store_fixtures
from tests.collector.conftest import _admin_engine
from tests.collector.live_server import free_port, make_config, run_collector, wait_for
from tests.collector.snmp import conftest as snmp_fixtures
from tests.collector.snmp.conftest import Simulator, free_udp_port
from tests.conftest import REPO_ROOT
from tests.e2e.test_snmp_polling import RECORDINGS, udp_forwarders
from tests.test_dashboards import DASHBOARDS, VARIABLE, _load, _panels, _variable_query, _variables

snmpsim = snmp_fixtures.snmpsim
postgres_database = store_fixtures.postgres_database
"""The session's PostgreSQL test database (shared with the store tests)."""

RULES = sorted((REPO_ROOT / "configs" / "prometheus" / "rules").glob("*.yml"))
RATE_INTERVAL = "30s"
SCRAPE_SECONDS = 1
LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.*),\s*(?P<label>\w+)\)$", re.S)
TIME_FILTER = re.compile(r"\$__timeFilter\(([^)]+)\)")

# Panel queries (dashboard file, panel title, refId) that return nothing on the test fleet, and why.
NO_HEALTH_DETAIL = "the test PCs (tests/factories.py: Windows office PCs) report no {}"
EXPECTED_EMPTY_PANELS: dict[tuple[str, str, str], str] = {
    ("security-posture.json", "Protection by PC", "F"): NO_HEALTH_DETAIL.format("encrypted volumes"),
    ("workstation.json", "Encrypted volumes", "A"): NO_HEALTH_DETAIL.format("encrypted volumes"),
    ("workstation.json", "Disk reads and writes", "A"): NO_HEALTH_DETAIL.format("disk I/O counters"),
    ("workstation.json", "Disk reads and writes", "B"): NO_HEALTH_DETAIL.format("disk I/O counters"),
    ("workstation.json", "Temperatures", "A"): NO_HEALTH_DETAIL.format("temperatures"),
    ("workstation.json", "Load and sessions", "A"): NO_HEALTH_DETAIL.format("load average (Linux only)"),
    ("workstation.json", "Load and sessions", "C"): NO_HEALTH_DETAIL.format("logged-in users"),
    ("workstation.json", "Disks (SMART)", "A"): NO_HEALTH_DETAIL.format("SMART verdict"),
    ("workstation.json", "Updates and settings", "C"): NO_HEALTH_DETAIL.format("last update time"),
    ("workstation.json", "Updates and settings", "H"): NO_HEALTH_DETAIL.format("SSH server state"),
    ("workstation.json", "Windows 11 ready", "A"): "the simulated agents send no TPM, firmware or "
    "CPU signature: readiness is unknown, so no series (tests/collector/test_windows11.py covers it)",
    ("ups.json", "Shortest runtime", "A"): "the netagent2 UPS recording has no runtime estimate",
    ("ups.json", "UPSes", "F"): "the netagent2 UPS recording has no runtime estimate",
    ("ups.json", "Runtime on battery", "A"): "the netagent2 UPS recording has no runtime estimate",
    ("ups.json", "UPSes", "H"): "the netagent2 UPS does not tell whether its battery needs replacing",
}
# Alert rules whose condition is true on the test fleet: their expression must return series.
# All other rules must only be accepted (their condition is false here: nothing is full, failing,
# on battery, ... and the blackbox probes of the websites are not scraped by the test).
FIRING_RULES = {
    "DozorFirewallOff": "machine 1 reports its firewall profiles off",
    "DozorAntivirusDisabled": "machine 2 reports its only antivirus off",
    "DozorDeviceUnreachable": "the configured device on a closed port never answers",
}


@dataclass
class Stand:
    prometheus: str
    store: Engine


@pytest.fixture(scope="module")
def store_url(postgres_database: URL) -> str:
    """The session's PostgreSQL database, emptied for this module (Grafana reads PostgreSQL only)."""
    wipe = _admin_engine(postgres_database)
    with wipe.connect() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    wipe.dispose()
    return postgres_database.render_as_string(hide_password=False)


def _post_reports(url: str) -> None:
    """Two PCs report through the API as agents do: one with its firewall off, one whose antivirus
    is turned off after its first inventory (a security change); and one report is refused."""
    secret = "enroll-secret-0123456789"
    for machine, inventories in (
        (1, [factories.inventory(1, firewall_on=False), None]),
        (2, [factories.inventory(2), factories.inventory(2, antivirus_on=False)]),
    ):
        enrolled = httpx.post(
            f"{url}/api/v1/enroll",
            json={
                "machine_id": factories.machine_id(machine),
                "hostname": f"OBLRADA-PC{machine:04d}",
                "secret": secret,
            },
            timeout=10,
        )
        assert enrolled.status_code == 201, enrolled.text
        token = enrolled.json()["token"]
        for seq, inv in enumerate(inventories, start=1):
            sent = httpx.post(
                f"{url}/api/v1/reports",
                content=factories.encode(factories.report(machine, seq=seq, inv=inv)),
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "Content-Encoding": "gzip",
                },
                timeout=10,
            )
            assert sent.status_code == 200, sent.text
    refused = httpx.post(
        f"{url}/api/v1/reports",
        content=b"{not json",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert refused.status_code == 400, refused.text


def _seed_supply_history(store: Engine) -> None:
    """A month of the printer's use before the test: a sample 10 days ago, 30 points fuller, for
    each supply the first poll sampled, so the next poll forecasts when each runs out."""
    with store.begin() as connection:
        latest = connection.execute(
            select(SupplySample.device_id, SupplySample.supply, SupplySample.percent)
        ).all()
        assert latest, "the printer's first poll sampled no supply"
        connection.execute(
            SupplySample.__table__.insert(),
            [
                {
                    "device_id": row.device_id,
                    "supply": row.supply,
                    "percent": min(100.0, row.percent + 30),
                    "at": datetime.now(UTC) - timedelta(days=10),
                }
                for row in latest
            ],
        )


def _run_prometheus(target: str, directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (Debian package 'prometheus'); run scripts/test.sh")
    config = directory / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {
                    "scrape_interval": f"{SCRAPE_SECONDS}s",
                    "evaluation_interval": f"{SCRAPE_SECONDS}s",
                },
                "scrape_configs": [
                    {
                        "job_name": "dozor",
                        "static_configs": [{"targets": [target], "labels": {"site": "oblrada"}}],
                    }
                ],
            }
        )
    )
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(directory / "prometheus.log").open("wb"),
    )
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def stand(snmpsim: Simulator, store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stand]:
    directory = tmp_path_factory.mktemp("dashboards-e2e")
    with udp_forwarders(snmpsim.port, len(RECORDINGS)) as ports:
        devices = "".join(
            f"    - {{address: 127.0.0.1, port: {port}, credential: {name}, kind: {kind},"
            f" name: {kind}-{name}, location: Room {index}, group: HQ}}\n"
            for index, (port, (kind, name)) in enumerate(zip(ports, RECORDINGS.items(), strict=True))
        )
        credentials = "".join(f"    {name}: {{community: {name}}}\n" for name in RECORDINGS.values())
        config = make_config(
            directory / "collector",
            store_url,
            "snmp:\n  interval_seconds: 10\n  timeout_seconds: 1\n  retries: 0\n"
            f"  credentials:\n{credentials}    dead: {{community: public}}\n"
            f"  devices:\n{devices}"
            f"    - {{address: 127.0.0.1, port: {free_udp_port()}, credential: dead, kind: printer,"
            " name: gone, group: HQ}\n",
        )
        with run_collector(config) as live, live.admin() as admin:
            _post_reports(live.url)
            store = make_engine(store_url)
            wait_for(
                lambda: len([d for d in admin.get("/api/v1/devices").json() if d["last_success_at"]]) == 3,
                30,
                "the three devices polled",
            )
            _seed_supply_history(store)
            prometheus, url = _run_prometheus(live.url.removeprefix("http://"), directory)
            try:
                wait_for(lambda: _answers(f"{url}/-/ready"), 30, "Prometheus ready")
                wait_for(
                    lambda: _query(url, "dozor_printer_supply_empty_timestamp_seconds") != [],
                    30,
                    "a supply forecast scraped",
                )
                time.sleep(5 * SCRAPE_SECONDS)  # a few more scrapes for rate() and increase()
                yield Stand(prometheus=url, store=store)
            finally:
                prometheus.terminate()
                prometheus.wait(timeout=20)
                store.dispose()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    """The instant vector (or scalar, as one sample) of ``expr``; a parse error fails the test."""
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", f"{expr}\n{answer.get('error')}"
    data = answer["data"]
    return data["result"] if data["resultType"] in ("vector", "matrix") else [{"value": data["result"]}]


def _prometheus_values(prometheus: str, query: str) -> list[str]:
    match = LABEL_VALUES.match(query.strip())
    assert match, f"not a label_values() query: {query}"
    answer = httpx.get(
        f"{prometheus}/api/v1/label/{match['label']}/values",
        params={"match[]": match["selector"]},
        timeout=10,
    ).json()
    assert answer["status"] == "success", answer
    return [value for value in answer["data"] if value]


def _sql_rows(store: Engine, query: str) -> list[Any]:
    now = datetime.now(UTC)
    window = f"BETWEEN '{(now - timedelta(days=30)).isoformat()}' AND '{now.isoformat()}'"
    with store.connect() as connection:
        return list(connection.execute(text(TIME_FILTER.sub(lambda m: f"{m.group(1)} {window}", query))))


def _regex_escape(value: str) -> str:
    """What Grafana does to a value it puts into a PromQL regex: regex metacharacters get a
    backslash, itself doubled inside the PromQL string."""
    return re.sub(r"([$^*{}\[\]'+?.()|])", r"\\\\\1", value.replace("\\", "\\\\\\\\"))


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _resolve(dashboard: dict[str, Any], stand: Stand) -> tuple[dict[str, str], dict[str, str]]:
    """Each variable's value as Grafana would put it into a PromQL and into a SQL query: the first
    value of a single-value variable, "All" for the others. Every variable must list values."""
    prom: dict[str, str] = {"__rate_interval": RATE_INTERVAL, "__interval": RATE_INTERVAL, "__range": "1h"}
    sql: dict[str, str] = {}
    for variable in _variables(dashboard):
        name = variable["name"]
        query = _variable_query(variable)
        if variable["type"] == "custom":
            values = [option.strip() for option in query.split(",")]
        elif variable["datasource"]["type"] == "prometheus":
            values = _prometheus_values(stand.prometheus, _substitute(query, prom))
        else:
            values = [str(row[0]) for row in _sql_rows(stand.store, _substitute(query, sql))]
        assert values, f"{dashboard['uid']}: ${name} lists no value"
        if not variable.get("multi"):
            prom[name] = sql[name] = values[0]
            continue
        prom[name] = (
            variable.get("allValue") or "(" + "|".join(_regex_escape(value) for value in values) + ")"
        )
        sql[name] = ",".join(_quote(value) for value in values)
    return prom, sql


def _substitute(query: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return match.group(0) if name == "__timeFilter" else values[name]

    return VARIABLE.sub(value, query)


def test_every_dashboard_query_runs_and_returns_data(stand: Stand) -> None:
    empty: list[str] = []
    checked = 0
    for path in DASHBOARDS:
        dashboard = _load(path)
        prom_values, sql_values = _resolve(dashboard, stand)
        for panel in _panels(dashboard):
            for target in panel.get("targets", ()):
                key = (path.name, panel["title"], target["refId"])
                if "rawSql" in target:
                    found = _sql_rows(stand.store, _substitute(target["rawSql"], sql_values))
                else:
                    found = _query(stand.prometheus, _substitute(target["expr"], prom_values))
                checked += 1
                if not found and key not in EXPECTED_EMPTY_PANELS:
                    empty.append(" / ".join(key))
                if found and key in EXPECTED_EMPTY_PANELS:
                    empty.append(f"{' / '.join(key)} returns data now: drop it from EXPECTED_EMPTY_PANELS")
    assert checked > 100
    assert not empty, "queries without data on the test fleet:\n" + "\n".join(empty)


def test_every_alert_rule_expression_is_accepted(stand: Stand) -> None:
    firing = set()
    rules = 0
    for path in RULES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                rules += 1
                if _query(stand.prometheus, rule["expr"]):
                    firing.add(rule.get("alert") or rule.get("record"))
    assert rules >= 30
    assert set(FIRING_RULES) <= firing, f"expected to fire: {set(FIRING_RULES) - firing}"
