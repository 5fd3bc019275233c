"""The agent ↔ collector contract: one schema, generated JSON Schema kept current, and an agent that
depends on nothing of the collector's."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from agent.schema.jsonschema import render_json_schema
from tests.conftest import REPO_ROOT

# Import name of each distribution the agent extra may pull in.
AGENT_DISTRIBUTIONS = {"psutil": "psutil", "msgspec": "msgspec", "pyyaml": "yaml"}


def test_json_schema_file_is_current() -> None:
    committed = (REPO_ROOT / "agent" / "schema" / "report.schema.json").read_text(encoding="utf-8")
    assert committed == render_json_schema(), "run `python -m agent.schema` and commit report.schema.json"


def test_agent_extra_is_light() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    names = {
        re.split(r"[<>=\[; ]", requirement)[0].lower()
        for requirement in project["optional-dependencies"]["agent"]
    }
    assert names == set(AGENT_DISTRIBUTIONS)


def test_agent_imports_nothing_of_the_collector() -> None:
    """Import every agent module (Linux and Windows probes alike) and list third-party modules loaded."""
    script = f"""
import importlib, pkgutil, sys
import agent
for module in pkgutil.walk_packages(agent.__path__, "agent."):
    if module.name.endswith("__main__"):
        continue
    importlib.import_module(module.name)
importlib.import_module("agent.__main__")
allowed = {{"agent", *{sorted(AGENT_DISTRIBUTIONS.values())!r}, "_yaml"}}
foreign = sorted({{name.split(".")[0] for name in sys.modules}} - set(sys.stdlib_module_names) - allowed
                 - {{"__main__", "_distutils_hack"}})
print(",".join(foreign))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"the agent imports modules outside its extra: {done.stdout.strip()}"
