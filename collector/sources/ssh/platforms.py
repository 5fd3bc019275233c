"""Network-device CLI knowledge as data: ``platforms.yaml`` loaded and checked once.

Each platform says which netmiko driver talks to it, which command prints its running config, which
config lines are volatile or secret, and which commands give which facts and how their parsed
fields map onto Dozor's names. Adding a platform or a command is an edit of the YAML (and maybe a
TextFSM template in ``templates/``), not of code. A bad file fails loudly at load time.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

import msgspec

PLATFORMS_FILE = Path(__file__).with_name("platforms.yaml")
TEMPLATE_DIR = Path(__file__).with_name("templates")

FactKind = Literal["version", "mac_table", "arp", "interfaces", "neighbors"]


class FieldRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A Dozor field derived from a parsed field: a regex's group 1 and/or a value mapping."""

    source: str = msgspec.field(name="from")
    pattern: str | None = None
    map: dict[str, str] = {}
    default: str | None = None


class SecretRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A regex whose group 1 is a secret; ``within`` limits it to matching config sections."""

    pattern: str
    within: str | None = None


class Command(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One fact command: what it is for, how it is parsed, and how its fields map."""

    fact: FactKind
    command: str
    fields: dict[str, str | FieldRule]
    template: str | None = None
    """A TextFSM template of ours (in ``templates/``); without it ntc-templates parses."""
    poll: bool = True
    """False: a variant we can parse (recordings have it) but do not send."""


class Platform(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Everything Dozor knows about talking to and reading one kind of device."""

    device_type: str
    ntc_platform: str
    enable: bool
    no_paging: str
    pager: str
    config_command: str
    config_marker: str
    errors: tuple[str, ...]
    volatile: tuple[str, ...]
    secrets: tuple[str | SecretRule, ...]
    commands: tuple[Command, ...]
    section: str | None = None
    name: str = ""

    def __post_init__(self) -> None:
        patterns = [self.pager, self.config_marker, *self.errors, *self.volatile]
        patterns += [r.pattern if isinstance(r, SecretRule) else r for r in self.secrets]
        patterns += [r.pattern for c in self.commands for r in c.fields.values() if isinstance(r, FieldRule)]
        for pattern in filter(None, patterns):
            re.compile(pattern)
        for rule in self.secrets:
            if re.compile(rule.pattern if isinstance(rule, SecretRule) else rule).groups < 1:
                raise ValueError(f"platform {self.name}: secret rule {rule!r} has no group for the secret")
        for command in self.commands:
            if command.template and not (TEMPLATE_DIR / command.template).is_file():
                raise ValueError(f"platform {self.name}: template {command.template} does not exist")

    def command(self, text: str) -> Command:
        """The fact command spelled ``text`` (spaces collapsed); ``KeyError`` if unknown."""
        wanted = " ".join(text.split())
        for command in self.commands:
            if command.command == wanted:
                return command
        raise KeyError(f"{self.name}: no known command {text!r}")

    @property
    def polled_commands(self) -> tuple[Command, ...]:
        """The fact commands a fetch sends, in file order."""
        return tuple(c for c in self.commands if c.poll)


def load_platforms(path: Path = PLATFORMS_FILE) -> dict[str, Platform]:
    """All platforms of ``path`` by name; keys starting with ``x-`` are YAML anchors, not platforms."""
    document = msgspec.yaml.decode(path.read_bytes(), type=dict[str, object])
    return {
        name: msgspec.convert({**entry, "name": name}, type=Platform, strict=True)  # type: ignore[dict-item]
        for name, entry in document.items()
        if not name.startswith("x-")
    }


@cache
def platforms() -> dict[str, Platform]:
    """The shipped platforms, loaded once."""
    return load_platforms()


def platform(name: str) -> Platform:
    """One shipped platform; ``KeyError`` naming the known ones if ``name`` is not among them."""
    known = platforms()
    if name not in known:
        raise KeyError(f"unknown CLI platform {name!r}; known: {', '.join(sorted(known))}")
    return known[name]
