"""The agent ↔ collector contract: one schema, generated JSON Schema kept current, and an agent that
depends on nothing of the collector's."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib

from agent.schema.jsonschema import render_json_schema
from tests.conftest import REPO_ROOT

# Import name of each distribution the agent extra may pull in.
AGENT_DISTRIBUTIONS = {"psutil": "psutil", "msgspec": "msgspec", "pyyaml": "yaml"}
WINDOWS_ONLY = {"pywin32"}
"""In the agent extra for Windows only (the service, job objects), imported only there."""
OPTIONAL = {"typing_extensions"}
"""Imported by msgspec when it happens to be installed; not needed by it, nor by the agent."""


def test_json_schema_file_is_current() -> None:
    committed = (REPO_ROOT / "agent" / "schema" / "report.schema.json").read_text(encoding="utf-8")
    assert committed == render_json_schema(), "run `python -m agent.schema` and commit report.schema.json"


def test_agent_extra_is_light() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    requirements = {
        re.split(r"[<>=\[; ]", requirement)[0].lower(): requirement
        for requirement in project["optional-dependencies"]["agent"]
    }
    assert set(requirements) == set(AGENT_DISTRIBUTIONS) | WINDOWS_ONLY
    for name in WINDOWS_ONLY:
        assert requirements[name].replace('"', "'").endswith("; sys_platform == 'win32'"), requirements[name]


def _agent_closure() -> set[str]:
    """Distributions the agent extra pulls in, transitively (e.g. msgspec → typing_extensions)."""
    from importlib.metadata import requires

    pending, seen = list(AGENT_DISTRIBUTIONS), set()
    while pending:
        name = pending.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        for requirement in requires(name) or ():
            if "extra ==" not in requirement:
                pending.append(re.split(r"[<>=!~\[; (]", requirement)[0])
    return seen


def test_agent_imports_nothing_of_the_collector() -> None:
    """Import every agent module (Linux and Windows probes alike), then map each third-party module
    loaded to its distribution: all must belong to the agent extra's closure."""
    script = """
import sys
at_start = set(sys.modules)  # what the interpreter itself loaded (site hooks), not the agent
import importlib, json, pkgutil
from importlib.metadata import packages_distributions
import agent
for module in pkgutil.walk_packages(agent.__path__, "agent."):
    importlib.import_module(module.name)
owners = packages_distributions()
loaded = {name.split(".")[0] for name in set(sys.modules) - at_start} - set(sys.stdlib_module_names)
print(json.dumps({name: owners.get(name, []) for name in sorted(loaded)}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    allowed = _agent_closure()
    foreign = {
        module: owners
        for module, owners in json.loads(done.stdout).items()
        if module != "agent"
        and module not in OPTIONAL
        and owners  # interpreter internals and import hooks (cython_runtime, editable finders) have none
        and not {owner.lower().replace("_", "-") for owner in owners} & allowed
    }
    assert not foreign, f"the agent imports modules outside its extra: {foreign}"
