"""The one diff path: a device's old facts + its new facts → merged facts and change events.

Every source of facts (agent reports now; SNMP, SSH and discovery later) hands its document here as
plain JSON-like data. What differs between sources is *data*, a ``Rules`` value: how the items of a
list are matched (memory modules by slot, software by name, source and architecture…), which paths
are volatile, and how a change reads to a person. A new source adds rules, not diff code.

What counts as a change:

* A value that is ``None`` or absent in the new document was *not collected* (a probe failed): the
  old value is kept in the merged facts and nothing is reported. Never "everything was removed".
* Learning a value that was unknown before is not a change either (no event).
* The first document of a device yields a single ``system / added / inventory`` event, not one event
  per package: the history starts with "inventory first received", not with a flood.
* One item of a keyed list yields at most one event: a package whose version moved is one
  "changed" event ("Software Mozilla Firefox updated 118.0 → 119.0"), not remove + add.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any, Literal, NamedTuple

import msgspec

Category = Literal["hardware", "software", "security", "system"]
Kind = Literal["added", "removed", "changed"]


class Change(msgspec.Struct, frozen=True):
    """One fact that changed; ``old``/``new`` are the whole item for list items, else the value."""

    category: Category
    kind: Kind
    subject: str
    """A readable path: ``hardware.memory.modules[DIMM_A1]``, ``security.rdp_enabled``."""
    old: Any
    new: Any
    summary: str
    """An English sentence for the history: "Firewall profile public turned off"."""


@dataclass(frozen=True)
class ListRule:
    """How the items of one list are matched between the old and the new document."""

    label: str
    """What one item is called in a summary: "RAM module"."""
    key: tuple[tuple[str, ...], ...] = ()
    """Alternative keys tried in order; one is used when its first field has a value:
    ``(("serial",), ("name",))`` is "serial, else name". Empty: items are plain values (strings)
    that are their own key. An item no alternative fits is matched only by being identical."""
    describe: tuple[str, ...] = ()
    """Fields shown when an item is added, removed or replaced: "16 GiB Kingston KF432C16"."""
    replaced_when: tuple[str, ...] = ()
    """A change of any of these fields means the physical part was swapped, not reconfigured."""
    version: str | None = None
    """The field whose change reads "updated a → b" (or "downgraded")."""
    verbs: tuple[str, str] = ("added", "removed")
    empty_is_unknown: bool = False
    """An empty list means "could not be read" (e.g. memory modules without DMI access)."""


@dataclass(frozen=True)
class Toggle:
    """A boolean a person reads as on/off: "Remote Desktop (RDP) turned on"."""

    subject: str
    """May name the list item: "Firewall profile {key}"."""
    on: str = "turned on"
    off: str = "turned off"


@dataclass(frozen=True)
class Rules:
    """Paths are dotted field names; ``[]`` stands for "any item of this list":
    ``security.firewall[].enabled``."""

    lists: Mapping[str, ListRule]
    categories: Mapping[str, Category]
    """Category by path prefix (the longest prefix wins); anything else is ``system``."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Readable names of sections and fields: ``hardware.os`` → "Operating system"."""
    toggles: Mapping[str, Toggle] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()
    """Volatile paths: their new value is taken silently (counters, signature ages, DHCP addresses)."""


def diff_facts(old: dict[str, Any] | None, new: dict[str, Any], rules: Rules) -> list[Change]:
    """The changes from ``old`` (None: nothing known yet) to ``new``."""
    return reconcile(old, new, rules)[1]


def reconcile(
    old: dict[str, Any] | None, new: dict[str, Any], rules: Rules
) -> tuple[dict[str, Any], list[Change]]:
    """The facts to keep (``new`` with its unknowns filled from ``old``) and the changes."""
    if old is None:
        return new, [Change("system", "added", "inventory", None, None, "Inventory first received")]
    changes: list[Change] = []
    return _Walk(rules).merge(old, new, "", "", changes), changes


class _Walk:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules

    def merge(self, old: Any, new: Any, path: str, subject: str, out: list[Change]) -> Any:
        """The merged value at ``path``; appends what changed there to ``out``."""
        if new is None:
            return old
        if old is None or path in self.rules.ignore:
            return new
        if isinstance(old, dict) and isinstance(new, dict):
            merged = {}
            for name in {**old, **new}:
                value = self.merge(old.get(name), new.get(name), _join(path, name), _join(subject, name), out)
                if value is not None:
                    merged[name] = value
            return merged
        rule = self.rules.lists.get(path)
        if rule is not None and isinstance(old, list) and isinstance(new, list):
            return self.merge_list(old, new, rule, path, subject, out)
        if old != new:
            out.append(self.value_change(old, new, path, subject))
        return new

    def merge_list(
        self, old: list[Any], new: list[Any], rule: ListRule, path: str, subject: str, out: list[Change]
    ) -> list[Any]:
        if not new and rule.empty_is_unknown:
            return old
        old_groups = _group(old, rule)
        merged: list[Any] = []
        for key, new_items in _group(new, rule).items():
            for before, after in _pair(old_groups.pop(key, []), new_items):
                if before is None:
                    out.append(self.item_event(rule, key, path, subject, "added", after))
                    merged.append(after)
                elif after is None:
                    out.append(self.item_event(rule, key, path, subject, "removed", before))
                else:
                    merged.append(self.merge_item(rule, key, before, after, path, subject, out))
        for key, old_items in old_groups.items():
            out.extend(self.item_event(rule, key, path, subject, "removed", item) for item in old_items)
        return merged

    def merge_item(
        self, rule: ListRule, key: _Key, before: Any, after: Any, path: str, subject: str, out: list[Change]
    ) -> Any:
        """One event for the whole item, whatever number of its fields changed."""
        if before == after:
            return after
        item_subject = f"{subject}[{key.display}]"
        fields: list[Change] = []
        merged = self.merge(before, after, f"{path}[]", item_subject, fields)
        if fields:
            changed = {change.subject[len(item_subject) + 1 :]: change for change in fields}
            summary = self.item_summary(rule, key, path, before, merged, changed)
            out.append(Change(self.category(path), "changed", item_subject, before, merged, summary))
        return merged

    def item_summary(
        self, rule: ListRule, key: _Key, path: str, before: Any, after: Any, changed: dict[str, Change]
    ) -> str:
        name = f"{rule.label} {key.name}"
        if any(field_name in changed for field_name in rule.replaced_when):
            return f"{name} replaced: {_describe(rule, before)} → {_describe(rule, after)}"
        sentences = []
        if rule.version in changed:
            old, new = before.get(rule.version), after.get(rule.version)
            verb = "downgraded" if _version(new) < _version(old) else "updated"
            sentences.append(f"{name} {verb} {_show(rule.version, old)} → {_show(rule.version, new)}")
        details = []
        for field_name, change in changed.items():
            toggle = self.rules.toggles.get(f"{path}[].{field_name}")
            if toggle is not None and isinstance(change.new, bool):
                sentences.append(_toggled(toggle, change.new, key.name))
            elif field_name != rule.version:
                details.append(f"{_words(field_name)} {_show_change(field_name, change.old, change.new)}")
        if details:
            sentences.append(f"{name} changed: {'; '.join(details)}")
        return "; ".join(sentences)

    def item_event(self, rule: ListRule, key: _Key, path: str, subject: str, kind: Kind, item: Any) -> Change:
        verb = rule.verbs[0] if kind == "added" else rule.verbs[1]
        description = _describe(rule, item)
        summary = f"{rule.label} {key.name} {verb}" + (f": {description}" if description else "")
        old, new = (None, item) if kind == "added" else (item, None)
        return Change(self.category(path), kind, f"{subject}[{key.display}]", old, new, summary)

    def value_change(self, old: Any, new: Any, path: str, subject: str) -> Change:
        toggle = self.rules.toggles.get(path)
        if toggle is not None and isinstance(new, bool):
            summary = _toggled(toggle, new, "")
        else:
            summary = f"{self.label(path)} changed: {_show_change(path, old, new)}"
        return Change(self.category(path), "changed", subject, old, new, summary)

    def category(self, path: str) -> Category:
        parts = path.replace("[]", "").split(".")
        for end in range(len(parts), 0, -1):
            category = self.rules.categories.get(".".join(parts[:end]))
            if category is not None:
                return category
        return "system"

    def label(self, path: str) -> str:
        """``hardware.os.version`` → "Operating system version" (labels first, then field names)."""
        if path in self.rules.labels:
            return self.rules.labels[path]
        parent, _, name = path.rpartition(".")
        section = self.rules.labels.get(parent) or _words(parent.rpartition(".")[2])
        text = f"{section} {_words(name)}".strip()
        return text[:1].upper() + text[1:]


class _Key(NamedTuple):
    """The identity of a list item: which key alternative matched and its values."""

    alternative: int
    values: tuple[Any, ...]

    @property
    def name(self) -> str:
        return str(self.values[0])

    @property
    def display(self) -> str:
        rest = ", ".join(str(value) for value in self.values[1:] if value not in (None, ""))
        return f"{self.name} ({rest})" if rest else self.name


def _key(item: Any, rule: ListRule) -> _Key:
    if not isinstance(item, dict):
        return _Key(0, (item,))
    for index, fields in enumerate(rule.key):
        if item.get(fields[0]) not in (None, ""):
            return _Key(index, tuple(item.get(name) for name in fields))
    return _Key(-1, (_canonical(item).decode(),))


def _group(items: list[Any], rule: ListRule) -> dict[_Key, list[Any]]:
    groups: dict[_Key, list[Any]] = {}
    for item in items:
        groups.setdefault(_key(item, rule), []).append(item)
    return groups


def _pair(old: list[Any], new: list[Any]) -> list[tuple[Any, Any]]:
    """Match items sharing a key (usually one each; several when a package is installed twice):
    identical items first, then the rest in a stable order; the surplus is added or removed."""
    if len(old) == 1 and len(new) == 1:
        return [(old[0], new[0])]
    unmatched_old = list(old)
    pairs, unmatched_new = [], []
    for item in new:
        if item in unmatched_old:
            unmatched_old.remove(item)
            pairs.append((item, item))
        else:
            unmatched_new.append(item)
    unmatched_old.sort(key=_canonical)
    unmatched_new.sort(key=_canonical)
    return pairs + list(zip_longest(unmatched_old, unmatched_new))


def _canonical(item: Any) -> bytes:
    return msgspec.json.encode(item, order="sorted")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _words(name: str) -> str:
    return name.removesuffix("_bytes").replace("_", " ")


def _toggled(toggle: Toggle, value: bool, key: str) -> str:
    return f"{toggle.subject.format(key=key)} {toggle.on if value else toggle.off}"


def _describe(rule: ListRule, item: Any) -> str:
    if not isinstance(item, dict):
        return ""
    return " ".join(_show(name, item[name]) for name in rule.describe if item.get(name) not in (None, ""))


def _show_change(name: str, old: Any, new: Any) -> str:
    return f"{_show(name, old)} → {_show(name, new)}"


def _show(name: str | None, value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name is not None and name.endswith("_bytes") and isinstance(value, int):
        return _size(value)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "none"
    return str(value)


def _size(count: int) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if count >= scale:
            return f"{count / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{count} B"


def _version(text: Any) -> tuple[int, ...]:
    """Numeric parts of a version string, enough to tell an update from a downgrade."""
    return tuple(int(part) for part in re.findall(r"\d+", str(text or "")))


# ---------------------------------------------------------------- rules for agent inventories

AGENT_RULES = Rules(
    lists={
        "hardware.memory.modules": ListRule(
            "RAM module",
            key=(("slot",),),
            describe=("size_bytes", "manufacturer", "part_number"),
            replaced_when=("size_bytes", "manufacturer", "part_number", "serial"),
            empty_is_unknown=True,
        ),
        "hardware.disks": ListRule(
            "Disk", key=(("serial",), ("name",)), describe=("size_bytes", "model", "media", "name")
        ),
        "hardware.network_interfaces": ListRule(
            "Network interface", key=(("mac",), ("name",)), describe=("name", "description")
        ),
        "hardware.monitors": ListRule(
            "Monitor", key=(("serial",), ("manufacturer", "model")), describe=("manufacturer", "model")
        ),
        "software": ListRule(
            "Software",
            key=(("name", "source", "architecture"),),
            describe=("version",),
            version="version",
            verbs=("installed", "removed"),
        ),
        "hotfixes": ListRule(
            "Hotfix", key=(("id",),), describe=("description",), verbs=("installed", "removed")
        ),
        "security.antivirus": ListRule("Antivirus", key=(("name",),)),
        "security.firewall": ListRule("Firewall profile", key=(("profile",),)),
        "security.disk_encryption": ListRule("Encrypted volume", key=(("volume",),), describe=("method",)),
        "security.local_admins": ListRule("Local administrator"),
    },
    categories={
        "hostname": "system",
        "hardware": "hardware",
        "hardware.os": "system",
        "hardware.system": "system",
        "software": "software",
        "hotfixes": "software",
        "security": "security",
    },
    labels={
        "hostname": "Hostname",
        "hardware.system": "Computer",
        "hardware.os": "Operating system",
        "hardware.cpu": "CPU",
        "hardware.memory": "Memory",
        "hardware.memory.total_bytes": "Total RAM",
    },
    toggles={
        "security.firewall[].enabled": Toggle("Firewall profile {key}"),
        "security.antivirus[].enabled": Toggle("Antivirus {key}", on="enabled", off="disabled"),
        "security.antivirus[].up_to_date": Toggle(
            "Antivirus {key} signatures", on="up to date again", off="out of date"
        ),
        "security.disk_encryption[].encrypted": Toggle("Encryption of volume {key}"),
        "security.disk_encryption[].protection_on": Toggle(
            "Encryption protection of volume {key}", on="resumed", off="suspended"
        ),
        "hardware.disks[].smart_healthy": Toggle("Disk {key} SMART health", on="OK again", off="failing"),
        "security.guest_enabled": Toggle("Guest account", on="enabled", off="disabled"),
        "security.rdp_enabled": Toggle("Remote Desktop (RDP)"),
        "security.ssh_enabled": Toggle("SSH server"),
        "security.smb1_enabled": Toggle("SMBv1"),
        "security.secure_boot": Toggle("Secure Boot"),
        "security.uac_enabled": Toggle("User Account Control"),
    },
    ignore=frozenset(
        {
            "hardware.system.hostname",  # the report's own hostname is diffed (one event, not two)
            "hardware.network_interfaces[].addresses",  # DHCP
            "hardware.network_interfaces[].is_up",
            "hardware.network_interfaces[].speed_mbps",
            "security.antivirus[].signature_version",  # several times a day
            "security.antivirus[].signature_age_days",
            "security.disk_encryption[].encrypted_percent",
            "security.updates",  # pending counts and reboots come and go: metrics, not history
        }
    ),
)
"""Rules for ``agent.schema.report.Inventory`` documents (``msgspec.to_builtins`` of it, plus the
report's ``hostname`` at the top level when the store diffs that)."""


# ---------------------------------------------------------------- rules for SNMP polls

SNMP_RULES = Rules(
    lists={
        "interfaces": ListRule(
            "Interface", key=(("name",),), describe=("descr", "mac"), replaced_when=("mac",)
        ),
        "supplies": ListRule(
            "Supply",
            key=(("description",),),
            describe=("type", "colour"),
            empty_is_unknown=True,  # a printer with no supplies at all is a failed table, not an empty one
        ),
    },
    categories={
        "system": "system",
        "entity": "hardware",
        "interfaces": "hardware",
        "supplies": "hardware",
        "printer": "hardware",
    },
    labels={
        "system": "System",
        "system.name": "System name (sysName)",
        "system.descr": "System description",
        "system.object_id": "System object ID",
        "entity.serial": "Serial number",
        "entity.firmware": "Firmware",
        "entity.software": "Software version",
        "entity.hardware": "Hardware revision",
        "entity.model": "Model",
        "entity.manufacturer": "Manufacturer",
        "printer.serial": "Printer serial number",
        "printer.model": "Printer model",
    },
    ignore=frozenset(
        {
            "system.uptime_ticks",
            "interfaces[].if_index",  # renumbered by some devices on reboot; the name is the identity
            "interfaces[].admin_status",
            "interfaces[].oper_status",
            "interfaces[].speed_bps",
            "interfaces[].in_octets",
            "interfaces[].out_octets",
            "interfaces[].counter_bits",
            "interfaces[].in_errors",
            "interfaces[].out_errors",
            "interfaces[].in_discards",
            "interfaces[].out_discards",
            "supplies[].level",  # see SUPPLY_REPLACED for the one level change that is an event
            "supplies[].max",
            "supplies[].percent",
            "supplies[].percent_reason",
            "supplies[].device",
            "supplies[].supply",
            "printer.status",
            "printer.device_status",
            "printer.conditions",
            "printer.page_count",
            "printer.device",
            "fdb",  # MAC tables move all day: state, not history
            "lldp",
            "ups",  # voltages, charge, load, source: metrics
        }
    ),
)
"""Rules for ``collector.sources.snmp.poll`` facts (``DevicePoll.facts``)."""

SUPPLY_REPLACED = (30.0, 90.0)
"""A supply whose level rises by at least the first percentage points to at least the second
percent was replaced (a new cartridge), though its level is otherwise volatile."""


def supply_replacements(old: dict[str, Any] | None, new: dict[str, Any]) -> list[Change]:
    """ "Supply … replaced" events: levels jumping up to near full between two polls."""
    rule = SNMP_RULES.lists["supplies"]
    before = {_key(item, rule): item for item in (old or {}).get("supplies") or () if isinstance(item, dict)}
    rise, full = SUPPLY_REPLACED
    changes = []
    for item in new.get("supplies") or ():
        previous = before.get(_key(item, rule)) if isinstance(item, dict) else None
        if previous is None:
            continue
        was, now = previous.get("percent"), item.get("percent")
        numbers = isinstance(was, int | float) and isinstance(now, int | float)
        if numbers and now >= full and now - was >= rise:
            name = str(item.get("description"))
            changes.append(
                Change(
                    "hardware",
                    "changed",
                    f"supplies[{name}]",
                    previous,
                    item,
                    f"Supply {name} replaced: {was:g}% → {now:g}%",
                )
            )
    return changes


# ---------------------------------------------------------------- rules for SSH (CLI) facts

CLI_RULES = Rules(
    lists={
        "cli.interfaces": ListRule("Port", key=(("name",),), describe=("description",)),
        "cli.neighbors": ListRule(
            "Neighbour", key=(("local_port", "remote_name"),), describe=("remote_name", "remote_port")
        ),
    },
    categories={"cli": "hardware", "cli.version": "system"},
    labels={
        "cli.version": "Device (CLI)",
        "cli.version.hostname": "Hostname (CLI)",
        "cli.version.model": "Model (CLI)",
        "cli.version.serial": "Serial number (CLI)",
        "cli.version.version": "Software version (CLI)",
        "cli.version.firmware": "Firmware (CLI)",
    },
    ignore=frozenset(
        {
            "cli.mac_table",  # MAC and ARP tables move all day: state, not history
            "cli.arp",
            "cli.interfaces[].status",
            "cli.interfaces[].speed",
            "cli.interfaces[].duplex",
        }
    ),
)
"""Rules for the ``cli`` section a device's SSH facts are stored under
(``collector.sources.ssh.schedule``)."""
