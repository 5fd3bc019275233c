"""Every kind of bad request gets a 4xx naming what is wrong, is counted, and changes nothing stored."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import inspect, select

from collector.store.models import Base
from tests import factories
from tests.collector.live_server import LiveCollector, make_config, run_collector

SMALL_LIMITS = "ingest: {max_body_bytes: 65536, max_decompressed_bytes: 1048576}\n"


@pytest.fixture
def collector(db_url: str, tmp_path: Path) -> Iterator[LiveCollector]:
    with run_collector(make_config(tmp_path, db_url, SMALL_LIMITS)) as live:
        yield live


def enroll(live: LiveCollector, machine: int) -> str:
    answer = live.client().post(
        "/api/v1/enroll",
        json={
            "machine_id": factories.machine_id(machine),
            "hostname": f"PC{machine}",
            "secret": live.runtime.enrollment_secret,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def snapshot(live: LiveCollector) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: the store must be exactly this after a refused request."""
    with live.runtime.sessions() as session:
        return {
            table.name: [
                tuple(row) for row in session.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


def rejected_count(live: LiveCollector, reason: str) -> float:
    text = live.client().get("/metrics").text
    for line in text.splitlines():
        if line.startswith(f'dozor_reports_rejected_total{{reason="{reason}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def post(
    live: LiveCollector, token: str | None, body: bytes, encoding: str | None = "gzip"
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if encoding:
        headers["Content-Encoding"] = encoding
    return live.client().post("/api/v1/reports", content=body, headers=headers)


def as_json(report: msgspec.Struct) -> dict[str, Any]:
    return json.loads(msgspec.json.encode(report))


def gz(document: Any) -> bytes:
    return gzip.compress(json.dumps(document).encode())


def huge_software() -> bytes:
    document = as_json(factories.report(inv=factories.inventory(package_count=1)))
    document["inventory"]["software"] = [{"name": f"p{i}", "source": "dpkg"} for i in range(10**6)]
    return gz(document)


def gzip_bomb() -> bytes:
    return gzip.compress(b"{" + b" " * (40 * 1024 * 1024) + b"}", compresslevel=9)


def with_field(path: str, value: Any) -> bytes:
    document = as_json(factories.report(inv=factories.inventory(package_count=5)))
    *parents, last = path.split(".")
    node = document
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[int(last) if last.isdigit() else last] = value
    return gz(document)


BAD_BODIES = {
    "malformed JSON": (lambda: gzip.compress(b'{"schema_version": 1, "seq": '), 400, "malformed_json"),
    "JSON array instead of object": (lambda: gz([1, 2, 3]), 400, "invalid_report"),
    "wrong type": (lambda: with_field("seq", "seven"), 422, "invalid_report"),
    "unknown field": (lambda: with_field("inventory.hardware.gpu", "RTX"), 422, "invalid_report"),
    "negative size": (lambda: with_field("inventory.hardware.memory.total_bytes", -1), 422, "invalid_report"),
    "NUL byte": (lambda: with_field("inventory.software.0.name", "evil\u0000name"), 422, "invalid_report"),
    "SQL in machine_id": (
        lambda: with_field("machine_id", "x'; DROP TABLE devices; --"),
        422,
        "invalid_report",
    ),
    "schema version from the future": (
        lambda: with_field("schema_version", 99),
        400,
        "unsupported_schema_version",
    ),
    "10^6 software entries": (huge_software, 413, "body_too_large"),
    "gzip bomb": (gzip_bomb, 413, "decompressed_too_large"),
    "truncated gzip": (lambda: gz({"schema_version": 1})[:-6], 400, "bad_gzip"),
    "oversized body": (lambda: b"x" * 70_000, 413, "body_too_large"),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_body_is_refused_and_store_unchanged(collector: LiveCollector, case: str) -> None:
    token = enroll(collector, 1)
    assert post(collector, token, factories.encode(factories.report(machine=1, seq=1))).status_code == 200
    make_body, status, reason = BAD_BODIES[case]
    before = snapshot(collector)
    counted = rejected_count(collector, reason)

    answer = post(collector, token, make_body())

    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == reason
    assert answer.json()["detail"]
    assert snapshot(collector) == before
    assert rejected_count(collector, reason) == counted + 1


def test_errors_name_the_bad_field(collector: LiveCollector) -> None:
    token = enroll(collector, 1)
    answer = post(collector, token, with_field("inventory.hardware.memory.total_bytes", -1))
    assert "$.inventory.hardware.memory.total_bytes" in answer.json()["detail"]


def test_unsupported_content_encoding(collector: LiveCollector) -> None:
    token = enroll(collector, 1)
    before = snapshot(collector)
    answer = post(collector, token, b"\x28\xb5\x2f\xfd", encoding="zstd")
    assert (answer.status_code, answer.json()["error"]) == (415, "unsupported_encoding")
    assert snapshot(collector) == before


@pytest.mark.parametrize(
    ("token", "reason"), [(None, "missing_token"), ("not-a-token-of-anyone", "unknown_token")]
)
def test_unknown_or_missing_token(collector: LiveCollector, token: str | None, reason: str) -> None:
    enroll(collector, 1)
    before = snapshot(collector)
    answer = post(collector, token, factories.encode(factories.report(machine=1)))
    assert (answer.status_code, answer.json()["error"]) == (401, reason)
    assert snapshot(collector) == before
    assert rejected_count(collector, reason) == 1


def test_revoked_token(collector: LiveCollector) -> None:
    token = enroll(collector, 1)
    assert post(collector, token, factories.encode(factories.report(machine=1, seq=1))).status_code == 200
    device_id = collector.admin().get("/api/v1/hosts").json()[0]["id"]
    assert collector.admin().post(f"/api/v1/hosts/{device_id}/revoke-tokens").json()["revoked_tokens"] == 1
    before = snapshot(collector)
    answer = post(collector, token, factories.encode(factories.report(machine=1, seq=2)))
    assert (answer.status_code, answer.json()["error"]) == (401, "revoked_token")
    assert snapshot(collector) == before


def test_token_used_for_another_hosts_identity(collector: LiveCollector) -> None:
    enroll(collector, 1)
    token_of_2 = enroll(collector, 2)
    before = snapshot(collector)
    answer = post(collector, token_of_2, factories.encode(factories.report(machine=1, seq=5)))
    assert (answer.status_code, answer.json()["error"]) == (403, "machine_mismatch")
    assert snapshot(collector) == before


def test_wrong_enrollment_secret(collector: LiveCollector) -> None:
    before = snapshot(collector)
    answer = collector.client().post(
        "/api/v1/enroll", json={"machine_id": factories.machine_id(3), "hostname": "PC3", "secret": "guess"}
    )
    assert (answer.status_code, answer.json()["error"]) == (403, "bad_enrollment_secret")
    assert snapshot(collector) == before


def test_sql_looking_names_are_stored_as_plain_data(collector: LiveCollector) -> None:
    """A package may legitimately be called anything; it is data, never SQL."""
    token = enroll(collector, 1)
    evil = "Robert'); DROP TABLE devices; --"
    software = [
        *factories.packages(3),
        factories.SoftwarePackage(name=evil, version="1'; --", source="registry"),
    ]
    inv = factories.inventory(software=software)
    answer = post(
        collector, token, factories.encode(factories.report(seq=1, inv=inv, inventory_hash="a" * 64))
    )
    assert answer.status_code == 200, answer.text
    hosts = collector.admin().get("/api/v1/hosts").json()
    detail = collector.admin().get(f"/api/v1/hosts/{hosts[0]['id']}").json()
    assert {"name": evil, "version": "1'; --"}.items() <= next(
        item for item in detail["software"] if item["name"] == evil
    ).items()
    assert set(inspect(collector.runtime.engine).get_table_names()) >= {"devices", "change_events"}


def test_admin_routes_need_the_admin_token(collector: LiveCollector) -> None:
    token = enroll(collector, 1)
    for path in ("/api/v1/hosts", "/api/v1/hosts/1", "/api/v1/software", "/api/v1/changes"):
        assert collector.client().get(path).status_code == 401
        answer = collector.client().get(path, headers={"Authorization": f"Bearer {token}"})
        assert (answer.status_code, answer.json()["error"]) == (401, "bad_admin_token")
