"""Shipped Prometheus configuration is valid for the real promtool."""

from __future__ import annotations

from tests.conftest import REPO_ROOT
from tests.promtool import promtool


def test_prometheus_config_is_valid() -> None:
    result = promtool(
        "check", "config", "--syntax-only", str(REPO_ROOT / "configs" / "prometheus" / "prometheus.yml")
    )
    assert result.returncode == 0, result.stdout + result.stderr
