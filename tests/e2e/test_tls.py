"""Agent → collector over HTTPS: verified against the configured CA, refused without it."""

from __future__ import annotations

import gzip
from pathlib import Path

import msgspec

from agent.transport import Transport
from tests import factories
from tests.collector.live_server import make_config, run_collector


def test_agent_delivers_over_verified_tls_only(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    config = make_config(
        tmp_path, f"sqlite:///{tmp_path / 'dozor.sqlite3'}", f"tls: {{cert_file: {cert}, key_file: {key}}}\n"
    )
    with run_collector(config) as live:
        assert live.url.startswith("https://127.0.0.1:")
        trusting = Transport(live.url, ca_file=cert, timeout=10)
        enrolled = trusting.enroll(factories.machine_id(1), "PC1", config.auth.enrollment_secret or "")
        trusting.token = enrolled.token
        body = gzip.compress(msgspec.json.encode(factories.report(machine=1, seq=1)))
        outcome = trusting.send(body)
        assert (outcome.kind, outcome.status) == ("delivered", 200)

        stranger = Transport(live.url, timeout=10)  # the system CAs only
        stranger.token = enrolled.token
        refused = stranger.send(body)
        assert refused.kind == "retry"
        assert "certificate not trusted" in refused.detail and "ca_file" in refused.detail
        assert live.admin().get("/api/v1/hosts/1").json()["reports_accepted"] == 1
        trusting.close()  # a kept-alive connection would hold up the collector's shutdown
