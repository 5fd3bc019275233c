"""Prometheus alert rules (``configs/prometheus/rules``): valid for the real promtool, each rule unit
tested firing and not firing, built only on metrics the collector declares, and each one speaking to
the chief in Ukrainian and English; the Alertmanager and blackbox_exporter configs are valid too."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.metrics.specs import SPEC
from tests.conftest import REPO_ROOT
from tests.promtool import promtool

PROMETHEUS_DIR = REPO_ROOT / "configs" / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.rules.yml"))
TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml"))
ALERTMANAGER_CONFIG = REPO_ROOT / "configs" / "alertmanager" / "alertmanager.yml"
ANNOTATIONS = {"summary", "description", "action", "summary_uk", "description_uk", "action_uk"}
SEVERITIES = {"critical", "warning", "info"}
COMPONENTS = {"host", "device", "inventory", "collector", "website"}
# Metrics Prometheus or blackbox_exporter make, not the collector.
EXTERNAL_METRICS = {"up"}
EXTERNAL_PREFIXES = ("probe_",)
# A metric name in PromQL: an identifier not followed by "(" (a function) and not a label, keyword
# or duration.
IDENTIFIER = re.compile(r"(?<![\w\"'])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()")
PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool"}
CYRILLIC = re.compile(r"[а-яіїєґА-ЯІЇЄҐ]")


def _rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
    ]


def _metric_names(expr: str) -> set[str]:
    """The series names an expression selects (label matchers and strings removed first)."""
    without_matchers = re.sub(r"\{[^}]*\}", "", expr)
    without_strings = re.sub(r'"[^"]*"', "", without_matchers)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_strings)
    grouping = r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"
    without_groupings = re.sub(grouping, "", without_ranges)
    return {name for name in IDENTIFIER.findall(without_groupings) if name not in PROMQL_WORDS}


def _tested_alerts() -> dict[str, set[bool]]:
    """Alert name → whether its tests expect it firing (True) and/or not firing (False)."""
    seen: dict[str, set[bool]] = {}
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", ()):
                seen.setdefault(check["alertname"], set()).add(bool(check.get("exp_alerts")))
    return seen


def test_rule_files_exist() -> None:
    assert RULE_FILES and TEST_FILES
    assert len(_rules()) >= 25


def test_promtool_checks_the_rules() -> None:
    result = promtool("check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_FILES)


def test_promtool_checks_the_config_with_its_rule_files() -> None:
    result = promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda path: path.name)
def test_promtool_unit_tests_pass(path: Path) -> None:
    result = promtool("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_rule_is_tested_firing_and_not_firing() -> None:
    tested = _tested_alerts()
    missing = {rule["alert"]: sorted(tested.get(rule["alert"], set())) for rule in _rules()}
    assert {name: cases for name, cases in missing.items() if cases != [False, True]} == {}


def test_every_metric_in_a_rule_is_declared_by_the_collector() -> None:
    used = {name for rule in _rules() for name in _metric_names(rule["expr"])}
    assert "dozor_host_up" in used and "probe_success" in used  # the parser finds names
    undeclared = {
        name
        for name in used
        if name not in SPEC and name not in EXTERNAL_METRICS and not name.startswith(EXTERNAL_PREFIXES)
    }
    assert undeclared == set()


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["alert"])
def test_rule_speaks_to_the_chief_in_both_languages(rule: dict[str, Any]) -> None:
    assert rule["alert"].startswith("Dozor")
    assert rule["labels"]["severity"] in SEVERITIES
    assert rule["labels"]["component"] in COMPONENTS
    annotations = rule["annotations"]
    assert set(annotations) == ANNOTATIONS
    for name in ("summary_uk", "description_uk", "action_uk"):
        assert CYRILLIC.search(annotations[name]), f"{name} is not Ukrainian"
    for name in ("summary", "description", "action"):
        assert not CYRILLIC.search(annotations[name]), f"{name} is not English"


def test_alertmanager_config_is_valid() -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool is not installed (Debian package 'prometheus-alertmanager'); run scripts/test.sh")
    result = subprocess.run(
        [amtool, "check-config", str(ALERTMANAGER_CONFIG)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for found in ("1 templates", "2 inhibit rules", "2 receivers"):
        assert found in result.stdout


def test_alertmanager_config_holds_no_secret() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    assert "smtp_auth_password" not in config["global"]
    tokens = {
        telegram["bot_token"]
        for receiver in config["receivers"]
        for telegram in receiver.get("telegram_configs", ())
    }
    assert tokens == {"${DOZOR_TELEGRAM_BOT_TOKEN}"}


def test_blackbox_config_is_valid() -> None:
    binary = shutil.which("prometheus-blackbox-exporter")
    if binary is None:
        pytest.skip("prometheus-blackbox-exporter is not installed; run scripts/test.sh")
    result = subprocess.run(
        [binary, f"--config.file={PROMETHEUS_DIR / 'blackbox.yml'}", "--config.check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    scrape = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())["scrape_configs"]
    modules = yaml.safe_load((PROMETHEUS_DIR / "blackbox.yml").read_text())["modules"]
    (job,) = [job for job in scrape if job["job_name"] == "blackbox-http"]
    assert set(job["params"]["module"]) <= set(modules)
