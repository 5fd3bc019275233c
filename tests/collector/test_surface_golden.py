"""The collector's outside surface stays put: metric names and their labels from a real ``/metrics``
scrape, the OpenAPI paths and methods, the CLI commands and options, and the config keys.

The golden file was recorded before the collector's layout moved (issue 11), so a move that changes
what a dashboard, an alert rule, a script or a config file relies on fails here. To accept an
intended change: ``DOZOR_UPDATE_GOLDEN=1 pytest tests/collector/test_surface_golden.py`` and review
the diff of ``golden/surface.json``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import msgspec
from prometheus_client.parser import text_string_to_metric_families

from collector.cli import _parser as collector_parser
from collector.config import CollectorConfig
from tests import factories
from tests.collector.live_server import make_config, run_collector
from tests.collector.test_api_bad_input import enroll, post
from tests.collector.test_metrics import backup_view, device_view, discovery_view, rich_report

GOLDEN = Path(__file__).parent / "golden" / "surface.json"


def _metric_labels(text: str) -> dict[str, list[str]]:
    families: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        labels = families.setdefault(f"{family.name} ({family.type})", set())
        for sample in family.samples:
            labels.update(set(sample.labels) - {"le"})
    return {name: sorted(labels) for name, labels in sorted(families.items())}


def _openapi_operations(document: dict[str, Any]) -> list[str]:
    return sorted(f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item)


def _commands(parser: argparse.ArgumentParser, prefix: str = "dozor-collector") -> list[str]:
    """Every command path with its options, e.g. ``dozor-collector devices accept --name``."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.extend(_commands(sub, f"{prefix} {name}"))
        elif not isinstance(action, argparse._HelpAction):
            found.append(f"{prefix} {'/'.join(action.option_strings) or action.dest}")
    return found


def _config_keys(kind: msgspec.inspect.Type, prefix: str = "") -> list[str]:
    """Every key path a config file may use (``snmp.devices[].credentials``)."""
    while isinstance(kind, msgspec.inspect.UnionType | msgspec.inspect.ListType | msgspec.inspect.DictType):
        if isinstance(kind, msgspec.inspect.UnionType):
            structs = [t for t in kind.types if isinstance(t, msgspec.inspect.StructType)]
            if not structs:
                return []
            kind = structs[0]
        elif isinstance(kind, msgspec.inspect.ListType):
            kind, prefix = kind.item_type, f"{prefix}[]"
        else:
            kind, prefix = kind.value_type, f"{prefix}{{}}"
    if not isinstance(kind, msgspec.inspect.StructType):
        return []
    keys = []
    for field in kind.fields:
        path = f"{prefix}.{field.encode_name}" if prefix else field.encode_name
        keys.append(path)
        keys.extend(_config_keys(field.type, path))
    return keys


def surface(tmp_path: Path) -> dict[str, Any]:
    with run_collector(make_config(tmp_path, f"sqlite:///{tmp_path / 'dozor.db'}")) as live:
        token = enroll(live, 1)
        assert post(live, token, factories.encode(rich_report())).status_code == 200
        device_view(live.runtime.devices)
        backup_view(live.runtime.backups)
        discovery_view(live.runtime.discovery)
        metrics = live.client().get("/metrics").text
        document = live.client().get("/openapi.json").json()
    return {
        "metrics": _metric_labels(metrics),
        "openapi": _openapi_operations(document),
        "cli": _commands(collector_parser()),
        "config": _config_keys(msgspec.inspect.type_info(CollectorConfig)),
    }


def test_surface_matches_the_golden_file(tmp_path: Path) -> None:
    current = surface(tmp_path)
    if os.environ.get("DOZOR_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(current, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    for part in ("metrics", "openapi", "cli", "config"):
        assert current[part] == golden[part], f"the collector's {part} changed"
