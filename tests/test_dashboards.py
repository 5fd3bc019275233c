"""The Grafana provisioning and dashboards (``dashboards/``): each dashboard is consistent (panel
ids, data sources, variables, units), names only metrics the collector declares, and every query is
PromQL that the real ``promtool`` parses."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.metrics import SPEC
from tests.conftest import REPO_ROOT
from tests.promtool import promtool

DASHBOARDS_DIR = REPO_ROOT / "dashboards"
PROVISIONING = DASHBOARDS_DIR / "provisioning"
DASHBOARDS = sorted((DASHBOARDS_DIR / "json").glob("*.json"))
METRIC = re.compile(r"\bdozor_[a-z0-9_]+")
# $name, ${name} and ${name:format}, as Grafana writes variable references.
VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")
# Grafana's own interval variables, replaced by a duration before Prometheus sees the query.
BUILTIN_DURATIONS = {"__rate_interval", "__interval", "__range"}
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")

Dashboard = dict[str, Any]


def _load(path: Path) -> Dashboard:
    dashboard: Dashboard = json.loads(path.read_text(encoding="utf-8"))
    return dashboard


def _panels(dashboard: Dashboard) -> Iterator[dict[str, Any]]:
    """Every panel, including those folded into a collapsed row."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", ())


def _queries(dashboard: Dashboard) -> Iterator[tuple[str, str]]:
    """(record name for promtool, PromQL) of every panel query."""
    for panel in _panels(dashboard):
        for target in panel.get("targets", ()):
            yield f"dashboard:panel_{panel['id']}_{target['refId']}", target["expr"]


def _variables(dashboard: Dashboard) -> list[dict[str, Any]]:
    return list(dashboard.get("templating", {}).get("list", ()))


def _variable_query(variable: dict[str, Any]) -> str:
    query = variable.get("query", "")
    return str(query["query"] if isinstance(query, dict) else query)


def _references(text: str) -> set[str]:
    return {braced or bare for braced, bare in VARIABLE.findall(text)}


def _declared(metric: str) -> bool:
    if metric in SPEC:
        return True
    return any(
        metric.endswith(suffix)
        and (spec := SPEC.get(metric.removesuffix(suffix))) is not None
        and spec.type == "histogram"
        for suffix in HISTOGRAM_SERIES
    )


@pytest.fixture(scope="module")
def datasource_uids() -> set[str]:
    provisioning = yaml.safe_load((PROVISIONING / "datasources" / "dozor.yml").read_text())
    return {source["uid"] for source in provisioning["datasources"]}


def test_provisioning_files() -> None:
    sources = yaml.safe_load((PROVISIONING / "datasources" / "dozor.yml").read_text())["datasources"]
    assert [(source["uid"], source["type"]) for source in sources] == [("prometheus", "prometheus")]
    (provider,) = yaml.safe_load((PROVISIONING / "dashboards" / "dozor.yml").read_text())["providers"]
    assert provider["type"] == "file"
    assert Path(provider["options"]["path"]).is_absolute()
    assert DASHBOARDS, "no dashboard in dashboards/json"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_dashboard_is_consistent(path: Path, datasource_uids: set[str]) -> None:
    dashboard = _load(path)
    assert dashboard["schemaVersion"] >= 39
    assert dashboard["uid"] and dashboard["title"]
    ids = [panel["id"] for panel in _panels(dashboard)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {sorted(ids)}"
    for panel in _panels(dashboard):
        if panel["type"] == "row":
            continue
        where = f"panel {panel['id']} ({panel['title']})"
        sources = [panel.get("datasource"), *(target.get("datasource") for target in panel["targets"])]
        for source in sources:
            assert source is not None and source["uid"] in datasource_uids, f"{where}: data source {source}"
        assert panel["targets"], f"{where}: no query"
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults.get("unit"), f"{where}: no unit"
        assert defaults.get("thresholds", {}).get("steps"), f"{where}: no thresholds"
    for variable in _variables(dashboard):
        if "datasource" in variable:
            assert variable["datasource"]["uid"] in datasource_uids, variable["name"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_variables_are_defined_and_used(path: Path) -> None:
    dashboard = _load(path)
    names = {variable["name"] for variable in _variables(dashboard)}
    panels_text = json.dumps(dashboard["panels"])
    for variable in _variables(dashboard):
        # A variable is used by a panel or by another variable's query (chained variables).
        others = " ".join(_variable_query(other) for other in _variables(dashboard) if other is not variable)
        assert variable["name"] in _references(panels_text + " " + others), f"${variable['name']} is unused"
    referenced = _references(" ".join(expr for _, expr in _queries(dashboard)))
    assert referenced <= names | BUILTIN_DURATIONS, f"undefined variables: {referenced - names}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_every_metric_is_declared_by_the_collector(path: Path) -> None:
    dashboard = _load(path)
    texts = [expr for _, expr in _queries(dashboard)] + [_variable_query(v) for v in _variables(dashboard)]
    used = {metric for text in texts for metric in METRIC.findall(text)}
    assert used, "no Dozor metric in any query"
    assert {metric for metric in used if not _declared(metric)} == set()


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_promtool_parses_every_query(path: Path, tmp_path: Path) -> None:
    dashboard = _load(path)
    # What Grafana sends: its intervals become durations, a variable its "All" value.
    values = {name: "5m" for name in BUILTIN_DURATIONS}
    values.update({v["name"]: v.get("allValue") or ".*" for v in _variables(dashboard)})

    def substitute(expr: str) -> str:
        return VARIABLE.sub(lambda match: values[match.group(1) or match.group(2)], expr)

    rules = [{"record": record, "expr": substitute(expr)} for record, expr in _queries(dashboard)]
    rules_file = tmp_path / "dashboard-rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": dashboard["uid"], "rules": rules}]}))
    result = promtool("check", "rules", str(rules_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout
