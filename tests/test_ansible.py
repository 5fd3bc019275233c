"""The Ansible roll-out (``ansible/``): the playbooks and the example inventory parse, every role
sets only options its modules document (the Windows role cannot run here), and the two Linux roles
really run on this machine into a temporary prefix, twice, the second time changing nothing."""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import certifi
import pytest
import yaml

from agent.config import load_config as load_agent_config
from collector.config import load_config as load_collector_config
from tests.conftest import REPO_ROOT

ANSIBLE_DIR = REPO_ROOT / "ansible"
ROLES_DIR = ANSIBLE_DIR / "roles"
INVENTORY = ANSIBLE_DIR / "inventory.example.yml"
# Playbooks are the top-level YAML files holding a list of plays (not the inventory or the vault).
PLAYBOOKS = sorted(
    path for path in ANSIBLE_DIR.glob("*.yml") if isinstance(yaml.safe_load(path.read_text()), list)
)
SECRET = "test-enrollment-secret-0123456789"
ADMIN_TOKEN = "test-admin-token-0123456789"
COLLECTOR_URL = "https://dozor.oblrada.example:8470"

# Stands in for `/usr/bin/python3 -m venv`: a venv that also sees the dev venv's packages (minus
# Dozor itself), so the roles' pip installs resolve every dependency offline, in seconds.
MKVENV = """\
import subprocess
import sys
from pathlib import Path

deps, target = sys.argv[1], Path(sys.argv[2])
subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
site = target / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
(site / "dev-dependencies.pth").write_text(deps + "\\n")
"""


def ansible(tool: str, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Runs an Ansible command with its state, temp files and role path confined to ``home``."""
    binary = Path(sys.executable).parent / tool
    if not binary.exists():
        pytest.fail(f"{binary} is missing: the dev extra brings Ansible (scripts/test.sh installs it)")
    env = {
        **os.environ,
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "local-tmp"),
        "ANSIBLE_REMOTE_TEMP": str(home / "remote-tmp"),
        "ANSIBLE_ROLES_PATH": str(ROLES_DIR),
        "ANSIBLE_NOCOLOR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    return subprocess.run(
        [str(binary), *args], cwd=home, env=env, capture_output=True, text=True, timeout=240, check=False
    )


@pytest.fixture
def ansible_home(tmp_path: Path) -> Path:
    home = tmp_path / "ansible-home"
    home.mkdir()
    return home


def test_playbooks_pass_the_syntax_check(ansible_home: Path) -> None:
    assert {path.name for path in PLAYBOOKS} >= {"site.yml", "collector.yml", "agents.yml"}
    result = ansible(
        "ansible-playbook", "--syntax-check", "-i", str(INVENTORY), *map(str, PLAYBOOKS), home=ansible_home
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_inventory_has_the_groups_the_playbooks_target(ansible_home: Path) -> None:
    result = ansible("ansible-inventory", "-i", str(INVENTORY), "--list", home=ansible_home)
    assert result.returncode == 0, result.stderr
    inventory = json.loads(result.stdout)
    plays = [play for path in PLAYBOOKS for play in yaml.safe_load(path.read_text())]
    targeted = {play["hosts"] for play in plays if "hosts" in play}
    assert targeted == {"dozor_collector", "dozor_agents_linux", "dozor_agents_windows"}
    for group in targeted:
        assert inventory[group]["hosts"], f"{group} lists no host"


def _tasks(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        if "block" in item:
            yield from _tasks(item["block"])
        else:
            yield item


def _unknown_options(args: dict[str, Any], options: dict[str, Any], where: str) -> Iterator[str]:
    names = {alias: name for name, spec in options.items() for alias in (name, *spec.get("aliases", ()))}
    for key, value in args.items():
        if key not in names:
            yield f"{where}.{key}"
            continue
        suboptions = options[names[key]].get("suboptions")
        if suboptions is None:
            continue
        for entry in value if isinstance(value, list) else [value]:
            if isinstance(entry, dict):
                yield from _unknown_options(entry, suboptions, f"{where}.{key}")


def test_roles_set_only_documented_module_options(ansible_home: Path) -> None:
    calls: list[tuple[str, str, dict[str, Any]]] = []
    for path in sorted(ROLES_DIR.glob("*/*/main.yml")):
        if path.parent.name not in ("tasks", "handlers"):
            continue
        for task in _tasks(yaml.safe_load(path.read_text())):
            where = f"{path.relative_to(ROLES_DIR)}: {task['name']}"
            # Task keywords have no dot; a module's fully qualified name has two.
            found = [key for key in task if key.count(".") == 2]
            assert len(found) == 1, f"{where}: expected one module by its FQCN, got {list(task)}"
            calls.append((where, found[0], task[found[0]]))
    modules = sorted({module for _, module, _ in calls})
    result = ansible("ansible-doc", "--json", "-t", "module", *modules, home=ansible_home)
    assert result.returncode == 0, result.stderr
    docs = json.loads(result.stdout)
    assert set(docs) == set(modules), "modules without documentation: not installed?"
    unknown = [
        f"{task}: {option}"
        for task, module, args in calls
        for option in _unknown_options(args, docs[module]["doc"]["options"], module)
    ]
    assert not unknown


def _build_wheel(tmp_path: Path) -> Path:
    """The wheel an operator would build, from a copy of the sources (setuptools leaves build/)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        (source / name).write_bytes((REPO_ROOT / name).read_bytes())
    for package in ("agent", "collector"):
        shutil.copytree(REPO_ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    # No build isolation and no index: the dev venv's setuptools builds it without the network.
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    result = subprocess.run(
        [*build, str(source), "-w", str(dist)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = dist.glob("dozor-*.whl")
    return wheel


def _dev_dependencies(target: Path) -> Path:
    """The dev venv's installed packages, less its editable Dozor: links into one directory."""
    target.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(("dozor", "__editable__")):
            (target / entry.name).symlink_to(entry)
    return target


def _changed(output: str) -> int:
    match = re.search(r"localhost\s*:.*\bchanged=(\d+).*\bfailed=0\b", output)
    assert match, output
    return int(match.group(1))


def _shipped_unit(name: str, replacements: dict[str, str]) -> str:
    text = (REPO_ROOT / "configs" / "systemd" / name).read_text()
    for old, new in replacements.items():
        assert old in text, f"{old} no longer in configs/systemd/{name}"
        text = text.replace(old, new)
    return text


@pytest.mark.slow
def test_linux_roles_install_collector_and_agent_into_a_prefix(
    tmp_path: Path, ansible_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = _build_wheel(tmp_path)
    mkvenv = tmp_path / "mkvenv.py"
    mkvenv.write_text(MKVENV)
    venv_command = shlex.join([sys.executable, str(mkvenv), str(_dev_dependencies(tmp_path / "deps"))])
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    root = tmp_path / "root"
    etc, units = root / "etc" / "dozor", root / "etc" / "systemd" / "system"
    collector_prefix, agent_prefix = root / "opt" / "dozor", root / "opt" / "dozor-agent"
    data_dir, state_dir = root / "var" / "lib" / "dozor", root / "var" / "lib" / "dozor-agent"
    variables = {
        "ansible_python_interpreter": sys.executable,
        "dozor_package_file": str(wheel),
        # Everything the wheel needs is already there: never ask an index.
        "dozor_pip_extra_args": "--no-index",
        "dozor_enrollment_secret": SECRET,
        "dozor_collector_admin_token": ADMIN_TOKEN,
        "dozor_collector_prefix": str(collector_prefix),
        "dozor_collector_venv_command": venv_command,
        "dozor_collector_system_packages": [],
        "dozor_collector_user": user,
        "dozor_collector_group": group,
        "dozor_collector_create_user": False,
        "dozor_collector_config_dir": str(etc),
        "dozor_collector_data_dir": str(data_dir),
        "dozor_collector_unit_dir": str(units),
        "dozor_collector_manage_service": False,
        "dozor_agent_prefix": str(agent_prefix),
        "dozor_agent_venv_command": venv_command,
        "dozor_agent_system_packages": [],
        "dozor_agent_owner": user,
        "dozor_agent_config_dir": str(etc),
        "dozor_agent_state_dir": str(state_dir),
        "dozor_agent_unit_dir": str(units),
        "dozor_agent_manage_service": False,
        "dozor_agent_collector_url": COLLECTOR_URL,
        "dozor_agent_ca_file_src": certifi.where(),
    }
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    playbook = tmp_path / "linux-roles.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Linux roles",
                    "hosts": "all",
                    "gather_facts": False,
                    "roles": ["dozor_collector", "dozor_agent_linux"],
                }
            ]
        )
    )
    command = ("-c", "local", "-i", "localhost,", "-e", f"@{tmp_path / 'vars.json'}", str(playbook))

    first = ansible("ansible-playbook", *command, home=ansible_home)
    assert first.returncode == 0, first.stdout + first.stderr
    assert _changed(first.stdout) > 0
    second = ansible("ansible-playbook", *command, home=ansible_home)
    assert second.returncode == 0, second.stdout + second.stderr
    assert _changed(second.stdout) == 0, second.stdout

    for config in (etc / "collector.yaml", etc / "agent.yaml"):
        assert config.stat().st_mode & 0o777 == 0o600, config
        assert config.stat().st_uid == os.getuid(), config
    assert data_dir.stat().st_mode & 0o777 == 0o750
    assert state_dir.stat().st_mode & 0o777 == 0o700

    collector = load_collector_config(etc / "collector.yaml")
    assert collector.listen == "0.0.0.0:8470"
    assert collector.data_dir == data_dir
    assert collector.auth.enrollment_secret == SECRET
    assert collector.auth.admin_token == ADMIN_TOKEN
    assert collector.database.url is None
    monkeypatch.delenv("DOZOR_ENROLLMENT_SECRET", raising=False)
    agent = load_agent_config(etc / "agent.yaml")
    assert agent.collector_url == COLLECTOR_URL
    assert agent.enrollment_secret == SECRET
    assert agent.ca_file == etc / "ca.pem"
    assert agent.state_dir == state_dir

    # The units are the shipped ones with this run's paths, under Ansible's header.
    collector_venv, agent_venv = collector_prefix / "venv", agent_prefix / "venv"
    expected_units = {
        "dozor-collector.service": _shipped_unit(
            "dozor-collector.service",
            {
                "/opt/dozor/venv": str(collector_venv),
                "/etc/dozor/collector": str(etc / "collector"),
                "/var/lib/dozor": str(data_dir),
                "User=dozor": f"User={user}",
            },
        ),
        "dozor-agent.service": _shipped_unit(
            "dozor-agent.service",
            {"/opt/dozor-agent/venv": str(agent_venv), "/etc/dozor/agent.yaml": str(etc / "agent.yaml")},
        ),
    }
    for name, expected in expected_units.items():
        header, _, unit = (units / name).read_text().partition("\n")
        assert header == "# Ansible managed"
        assert unit == expected

    for venv, package in ((agent_venv, "agent"), (collector_venv, "collector")):
        program = f"dozor-{package}"
        result = subprocess.run(
            [str(venv / "bin" / program), "--help"], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"usage: {program}")
        # Dozor runs from the wheel installed in the venv, not from the source tree.
        where = subprocess.run(
            [str(venv / "bin" / "python"), "-c", f"import {package}; print({package}.__file__)"],
            # Not from the repository's folder, which `python -c` would put first on sys.path.
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
