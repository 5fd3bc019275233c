"""The Grafana provisioning and dashboards (``dashboards/``): each dashboard is consistent (panel
ids, data sources of the right type, variables, units), names only metrics the collector declares,
every PromQL query is one the real ``promtool`` parses, and the generated dashboards are what
``dashboards/generate.py`` makes. The queries run against real Prometheus and PostgreSQL in
``tests/e2e/test_dashboard_queries.py``."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from collector.metrics.specs import SPEC
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
# Grafana's SQL macros the store's panels use; expanded before PostgreSQL sees the query.
SQL_MACROS = {"__timeFilter"}
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
    """(record name for promtool, PromQL) of every Prometheus panel query."""
    for panel in _panels(dashboard):
        for target in panel.get("targets", ()):
            if target["datasource"]["type"] == "prometheus":
                yield f"dashboard:panel_{panel['id']}_{target['refId']}", target["expr"]


def _sql_queries(dashboard: Dashboard) -> Iterator[tuple[str, str]]:
    """(panel and query, SQL) of every query of the store."""
    for panel in _panels(dashboard):
        for target in panel.get("targets", ()):
            if "rawSql" in target:
                yield f"panel {panel['id']} ({panel['title']}) {target['refId']}", target["rawSql"]


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


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dashboards_generate", DASHBOARDS_DIR / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def datasource_uids() -> dict[str, str]:
    """uid → type of each provisioned data source."""
    provisioning = yaml.safe_load((PROVISIONING / "datasources" / "dozor.yml").read_text())
    return {source["uid"]: source["type"] for source in provisioning["datasources"]}


def test_provisioning_files() -> None:
    sources = yaml.safe_load((PROVISIONING / "datasources" / "dozor.yml").read_text())["datasources"]
    assert [(source["uid"], source["type"]) for source in sources] == [
        ("prometheus", "prometheus"),
        ("dozor-store", "postgres"),
    ]
    store = sources[1]
    assert store["secureJsonData"]["password"].startswith("${"), "the password comes from the environment"
    (provider,) = yaml.safe_load((PROVISIONING / "dashboards" / "dozor.yml").read_text())["providers"]
    assert provider["type"] == "file"
    assert Path(provider["options"]["path"]).is_absolute()
    assert DASHBOARDS, "no dashboard in dashboards/json"


def test_generated_dashboards_are_committed() -> None:
    generator = _generator()
    for name, build in generator.DASHBOARDS.items():
        path = DASHBOARDS_DIR / "json" / name
        assert path.exists(), f"{name} missing: run python dashboards/generate.py"
        assert path.read_text(encoding="utf-8") == generator.render(build), (
            f"{name} differs from what dashboards/generate.py makes: run it and commit the result"
        )


def test_dashboards_have_distinct_uids() -> None:
    uids = [_load(path)["uid"] for path in DASHBOARDS]
    assert len(uids) == len(set(uids)), uids


def _check_source(source: dict[str, str] | None, datasource_uids: dict[str, str], where: str) -> None:
    assert source is not None and source.get("uid") in datasource_uids, f"{where}: data source {source}"
    assert source["type"] == datasource_uids[source["uid"]], f"{where}: type {source['type']} of {source}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_dashboard_is_consistent(path: Path, datasource_uids: dict[str, str]) -> None:
    dashboard = _load(path)
    assert dashboard["schemaVersion"] >= 39
    assert dashboard["uid"] and dashboard["title"]
    ids = [panel["id"] for panel in _panels(dashboard)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {sorted(ids)}"
    for panel in _panels(dashboard):
        assert panel["gridPos"]["x"] >= 0 and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] == "row":
            continue
        where = f"panel {panel['id']} ({panel['title']})"
        assert panel["targets"], f"{where}: no query"
        _check_source(panel.get("datasource"), datasource_uids, where)
        for target in panel["targets"]:
            _check_source(target.get("datasource"), datasource_uids, f"{where} {target['refId']}")
            query = (
                target.get("expr") if target["datasource"]["type"] == "prometheus" else target.get("rawSql")
            )
            assert query and query.strip(), f"{where} {target['refId']}: no query text"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), f"{where}: duplicate refIds {ref_ids}"
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults.get("unit"), f"{where}: no unit"
        assert defaults.get("thresholds", {}).get("steps"), f"{where}: no thresholds"
    for variable in _variables(dashboard):
        assert variable["type"] in {"query", "custom"}, variable["name"]
        assert _variable_query(variable), f"${variable['name']}: no query"
        if variable["type"] == "query":
            _check_source(variable.get("datasource"), datasource_uids, f"${variable['name']}")
        if variable.get("multi"):
            assert variable.get("includeAll"), f"${variable['name']}: multi-value without All"
    names = [variable["name"] for variable in _variables(dashboard)]
    assert len(names) == len(set(names)), f"variables defined twice: {names}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_variables_are_defined_and_used(path: Path) -> None:
    dashboard = _load(path)
    names = {variable["name"] for variable in _variables(dashboard)}
    panels_text = json.dumps(dashboard["panels"])
    for variable in _variables(dashboard):
        # A variable is used by a panel or by another variable's query (chained variables).
        others = " ".join(_variable_query(other) for other in _variables(dashboard) if other is not variable)
        assert variable["name"] in _references(panels_text + " " + others), f"${variable['name']} is unused"
    queries = [expr for _, expr in _queries(dashboard)] + [raw for _, raw in _sql_queries(dashboard)]
    referenced = _references(" ".join(queries + [_variable_query(v) for v in _variables(dashboard)]))
    undefined = referenced - names - BUILTIN_DURATIONS - SQL_MACROS
    assert not undefined, f"undefined variables: {undefined}"
    for position, variable in enumerate(_variables(dashboard)):
        # A chained variable refers only to variables defined before it (Grafana resolves in order).
        earlier = {other["name"] for other in _variables(dashboard)[:position]}
        assert _references(_variable_query(variable)) <= earlier, f"${variable['name']} refers ahead"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_every_metric_is_declared_by_the_collector(path: Path) -> None:
    dashboard = _load(path)
    texts = [expr for _, expr in _queries(dashboard)] + [_variable_query(v) for v in _variables(dashboard)]
    used = {metric for text in texts for metric in METRIC.findall(text)}
    assert used or not any(True for _ in _queries(dashboard)), "no Dozor metric in any query"
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
