"""Generates the Dozor Grafana dashboards in ``dashboards/json/`` (all but ``fleet-overview.json``,
which is kept by hand). Run ``python dashboards/generate.py`` after editing; a test checks that the
committed JSON is what this prints.

Each dashboard is declared as rows of panels; the layout (grid positions) and the panel ids follow
from the order. Prometheus queries take ``max`` over series that differ only by scrape target, so
several collector replicas are not counted twice. SQL panels read the PostgreSQL store through the
``dozor-store`` data source (``provisioning/datasources/dozor.yml``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JSON_DIR = Path(__file__).resolve().parent / "json"
PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
STORE = {"type": "postgres", "uid": "dozor-store"}
GRID_WIDTH = 24

Json = dict[str, Any]

# ---- thresholds and value mappings


def steps(base: str, *levels: tuple[float, str]) -> Json:
    """Absolute thresholds: ``base`` colour below the first level, then each (value, colour)."""
    return {
        "mode": "absolute",
        "steps": [{"color": base, "value": None}, *({"color": c, "value": v} for v, c in levels)],
    }


NEUTRAL = steps("green")
BAD_FROM_ONE = steps("green", (1, "red"))
WARN_FROM_ONE = steps("green", (1, "orange"))
GOOD_IS_ONE = steps("red", (1, "green"))
FREE_SPACE = steps("red", (0.1, "orange"), (0.2, "green"))
SUPPLY = steps("red", (0.1, "orange"), (0.25, "green"))
DAYS_LEFT = steps("red", (7, "orange"), (21, "green"))


def yes_no(good: str, one: str = "yes", zero: str = "no") -> list[Json]:
    """A 0/1 gauge shown as words; ``good`` says which of them is green."""
    colours = {"1": "green" if good == one else "red", "0": "green" if good == zero else "red"}
    return [
        {
            "type": "value",
            "options": {
                "1": {"text": one, "color": colours["1"], "index": 0},
                "0": {"text": zero, "color": colours["0"], "index": 1},
            },
        }
    ]


# ---- queries


def prom(expr: str, legend: str = "__auto", table: bool = False) -> Json:
    """A PromQL query: a range for graphs, an instant table for tables, stats and bar gauges."""
    target: Json = {"datasource": PROMETHEUS, "expr": expr, "legendFormat": legend}
    if table:
        target.update(format="table", instant=True, range=False)
    else:
        target.update(instant=False, range=True)
    return target


def sql(raw: str, fmt: str = "table") -> Json:
    """A query of the PostgreSQL store; ``fmt`` is ``table`` or ``time_series``."""
    return {"datasource": STORE, "editorMode": "code", "format": fmt, "rawQuery": True, "rawSql": raw}


# ---- panels


@dataclass
class Panel:
    type: str
    title: str
    description: str
    targets: list[Json]
    unit: str = "none"
    thresholds: Json = field(default_factory=lambda: NEUTRAL)
    width: int = 6
    height: int = 8
    decimals: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    mappings: list[Json] = field(default_factory=list)
    columns: dict[str, Json] = field(default_factory=dict)
    """Table column (as renamed) → its own unit, thresholds, mappings or cell type."""
    rename: dict[str, str] = field(default_factory=dict)
    """Table fields to rename (``Value #A`` → "Up"); Time and the fields renamed to "" are hidden."""

    def render(self, panel_id: int, x: int, y: int) -> Json:
        source = self.targets[0]["datasource"]
        defaults: Json = {"unit": self.unit, "thresholds": self.thresholds, "mappings": self.mappings}
        defaults["color"] = {"mode": "palette-classic" if self.type == "timeseries" else "thresholds"}
        for key, value in (("decimals", self.decimals), ("min", self.minimum), ("max", self.maximum)):
            if value is not None:
                defaults[key] = value
        if self.type == "timeseries":
            defaults["custom"] = {
                "drawStyle": "line",
                "lineWidth": 1,
                "fillOpacity": 10,
                "showPoints": "never",
                "spanNulls": False,
                "thresholdsStyle": {"mode": "off"},
            }
        if self.type == "table":
            defaults["custom"] = {"align": "auto", "cellOptions": {"type": "auto"}}
        panel: Json = {
            "id": panel_id,
            "type": self.type,
            "title": self.title,
            "description": self.description,
            "datasource": source,
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "fieldConfig": {"defaults": defaults, "overrides": self._overrides()},
            "options": self._options(),
            "targets": [
                {**target, "refId": chr(ord("A") + index)} for index, target in enumerate(self.targets)
            ],
        }
        if self.type == "table":
            panel["transformations"] = self._table_transformations()
        return panel

    def _overrides(self) -> list[Json]:
        overrides = []
        for column, settings in self.columns.items():
            properties: list[Json] = []
            for key, value in settings.items():
                if key == "cell":
                    properties.append({"id": "custom.cellOptions", "value": {"type": value}})
                else:
                    properties.append({"id": key, "value": value})
            overrides.append({"matcher": {"id": "byName", "options": column}, "properties": properties})
        return overrides

    def _options(self) -> Json:
        reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
        if self.type == "stat":
            return {
                "reduceOptions": reduce,
                "colorMode": "background",
                "graphMode": "none",
                "justifyMode": "center",
                "textMode": "value",
                "orientation": "auto",
            }
        if self.type == "bargauge":
            return {
                "reduceOptions": reduce,
                "orientation": "horizontal",
                "displayMode": "gradient",
                "showUnfilled": True,
                "valueMode": "color",
            }
        if self.type == "piechart":
            return {
                "reduceOptions": reduce,
                "pieType": "pie",
                "legend": {"displayMode": "table", "placement": "right", "showLegend": True},
            }
        if self.type == "table":
            return {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
        return {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }

    def _table_transformations(self) -> list[Json]:
        transformations: list[Json] = []
        if len(self.targets) > 1:
            transformations.append({"id": "merge", "options": {}})
        hidden = {"Time": True} if self.targets[0]["datasource"] == PROMETHEUS else {}
        hidden.update({name: True for name, shown in self.rename.items() if not shown})
        transformations.append(
            {
                "id": "organize",
                "options": {
                    "excludeByName": hidden,
                    "renameByName": {name: shown for name, shown in self.rename.items() if shown},
                },
            }
        )
        return transformations


@dataclass
class Row:
    title: str
    panels: list[Panel]


# ---- variables


def prom_variable(
    name: str, label: str, query: str, multi: bool = True, all_value: str | None = ".*"
) -> Json:
    """A variable from ``label_values(...)``. ``all_value=None`` makes "All" the regex of the listed
    values, so a device list narrowed by site or group narrows the panels too."""
    variable: Json = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": PROMETHEUS,
        "definition": query,
        "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
    }
    return _choices(variable, multi, all_value)


def sql_variable(name: str, label: str, query: str) -> Json:
    """A variable listing values from the store; "All" expands to the quoted list of them."""
    variable: Json = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": STORE,
        "definition": query,
        "query": query,
    }
    return _choices(variable, True, None)


def custom_variable(name: str, label: str, values: list[str]) -> Json:
    variable: Json = {
        "name": name,
        "label": label,
        "type": "custom",
        "query": ",".join(values),
        "options": [{"text": value, "value": value, "selected": False} for value in values],
    }
    return _choices(variable, True, None)


def _choices(variable: Json, multi: bool, all_value: str | None) -> Json:
    variable.update(refresh=2, regex="", sort=1, multi=multi, includeAll=multi, hide=0, skipUrlSync=False)
    if multi:
        if all_value is not None:
            variable["allValue"] = all_value
        variable["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    else:
        variable["current"] = {}
    variable.setdefault("options", [])
    return variable


# ---- dashboards


def dashboard(uid: str, title: str, description: str, variables: list[Json], rows: list[Row]) -> Json:
    """Lays the rows out top to bottom, each row's panels left to right, wrapping at the grid width."""
    panels: list[Json] = []
    y = 0
    panel_id = 0
    for row in rows:
        panel_id += 1
        panels.append(
            {
                "id": panel_id,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
                "panels": [],
            }
        )
        y += 1
        x = 0
        line_height = 0
        for panel in row.panels:
            if x + panel.width > GRID_WIDTH:
                x, y, line_height = 0, y + line_height, 0
            panel_id += 1
            panels.append(panel.render(panel_id, x, y))
            x += panel.width
            line_height = max(line_height, panel.height)
        y += line_height
    return {
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [
            {
                "type": "dashboards",
                "tags": ["dozor"],
                "asDropdown": True,
                "title": "Dozor",
                "icon": "external link",
            }
        ],
        "liveNow": False,
        "panels": panels,
        "refresh": "1m",
        "schemaVersion": 39,
        "tags": ["dozor"],
        "templating": {"list": variables},
        "time": {"from": "now-24h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "monday",
    }


def _stat(title: str, description: str, expr: str, thresholds: Json = BAD_FROM_ONE, **kw: Any) -> Panel:
    kw.setdefault("width", 4)
    kw.setdefault("height", 4)
    kw.setdefault("decimals", 0)
    return Panel("stat", title, description, [prom(expr, table=True)], thresholds=thresholds, **kw)


SITE_HOSTS = prom_variable("site", "Site", "label_values(dozor_host_up, site)")


def workstation() -> Json:
    host = 'host="$host"'
    health = [
        Panel(
            "timeseries",
            "CPU busy",
            "Share of time the CPU was busy over the agent's interval.",
            [prom(f"max(dozor_host_cpu_usage_ratio{{{host}}})", "CPU")],
            unit="percentunit",
            thresholds=steps("green", (0.8, "orange"), (0.95, "red")),
            minimum=0,
            maximum=1,
            width=8,
        ),
        Panel(
            "timeseries",
            "Memory",
            "Physical memory in use and swap (page file) in use.",
            [
                prom(
                    f"max(dozor_host_memory_total_bytes{{{host}}})"
                    f" - max(dozor_host_memory_available_bytes{{{host}}})",
                    "memory used",
                ),
                prom(f"max(dozor_host_memory_total_bytes{{{host}}})", "memory total"),
                prom(f"max(dozor_host_swap_used_bytes{{{host}}})", "swap used"),
            ],
            unit="bytes",
            minimum=0,
            width=8,
        ),
        Panel(
            "bargauge",
            "Free space by filesystem",
            "Share of each filesystem free for users; red below 10 %.",
            [
                prom(
                    f"max by (mountpoint) (dozor_host_filesystem_free_bytes{{{host}}})"
                    f" / (max by (mountpoint) (dozor_host_filesystem_size_bytes{{{host}}}) > 0)",
                    "{{mountpoint}}",
                    table=True,
                )
            ],
            unit="percentunit",
            thresholds=FREE_SPACE,
            minimum=0,
            maximum=1,
            width=8,
        ),
        Panel(
            "timeseries",
            "Disk reads and writes",
            "Bytes per second read from and written to each disk.",
            [
                prom(
                    f"max by (device) (rate(dozor_host_disk_read_bytes_total{{{host}}}[$__rate_interval]))",
                    "{{device}} read",
                ),
                prom(
                    "max by (device) "
                    f"(rate(dozor_host_disk_written_bytes_total{{{host}}}[$__rate_interval]))",
                    "{{device}} written",
                ),
            ],
            unit="Bps",
            minimum=0,
            width=8,
        ),
        Panel(
            "timeseries",
            "Network traffic",
            "Bytes per second received and sent by each network interface.",
            [
                prom(
                    "max by (interface) "
                    f"(rate(dozor_host_network_receive_bytes_total{{{host}}}[$__rate_interval]))",
                    "{{interface}} in",
                ),
                prom(
                    "max by (interface) "
                    f"(rate(dozor_host_network_transmit_bytes_total{{{host}}}[$__rate_interval]))",
                    "{{interface}} out",
                ),
            ],
            unit="Bps",
            minimum=0,
            width=8,
        ),
        Panel(
            "timeseries",
            "Network errors",
            "Receive and transmit errors per second: a bad cable, socket or switch port.",
            [
                prom(
                    f"max by (interface) (rate(dozor_host_network_errors_total{{{host}}}[$__rate_interval]))",
                    "{{interface}}",
                )
            ],
            unit="cps",
            thresholds=steps("green", (0.1, "red")),
            minimum=0,
            width=8,
        ),
        Panel(
            "timeseries",
            "Temperatures",
            "Sensor temperatures the agent reads (Linux; most Windows PCs report none).",
            [
                prom(
                    f"max by (sensor, label) (dozor_host_temperature_celsius{{{host}}})",
                    "{{sensor}} {{label}}",
                )
            ],
            unit="celsius",
            thresholds=steps("green", (80, "orange"), (90, "red")),
            width=12,
        ),
        Panel(
            "timeseries",
            "Load and sessions",
            "1-minute load average (Linux) against the logical CPUs, and logged-in user sessions.",
            [
                prom(f"max(dozor_host_load1{{{host}}})", "load 1m"),
                prom(f"max(dozor_host_cpus{{{host}}})", "CPUs"),
                prom(f"max(dozor_host_users_logged_in{{{host}}})", "user sessions"),
            ],
            minimum=0,
            width=12,
        ),
    ]
    status = [
        _stat(
            "Agent",
            "Whether the agent reported within the collector's offline threshold.",
            f"max(dozor_host_up{{{host}}})",
            GOOD_IS_ONE,
            mappings=yes_no("online", "online", "offline"),
        ),
        _stat(
            "Last report",
            "When the agent's last report arrived.",
            f"max(dozor_host_last_seen_timestamp_seconds{{{host}}}) * 1000",
            NEUTRAL,
            unit="dateTimeFromNow",
        ),
        _stat(
            "Up for",
            "Time since the PC last booted.",
            f"time() - max(dozor_host_boot_time_seconds{{{host}}})",
            steps("green", (30 * 86400, "orange")),
            unit="s",
        ),
        _stat(
            "Failed probes",
            "Probes that failed in the last report: those facts keep their last known value.",
            f"max(dozor_host_probe_errors{{{host}}})",
            WARN_FROM_ONE,
        ),
        _stat("Logical CPUs", "Logical CPUs of the PC.", f"max(dozor_host_cpus{{{host}}})", NEUTRAL),
        _stat(
            "Memory",
            "Physical memory installed.",
            f"max(dozor_host_memory_total_bytes{{{host}}})",
            NEUTRAL,
            unit="bytes",
            decimals=1,
        ),
        _stat(
            "Windows 11 ready",
            "Windows 10 PCs: whether every Windows 11 requirement holds (TPM 2.0, UEFI and Secure "
            "Boot, a supported CPU, 4 GB RAM, 64 GB disk). Empty: Windows 11 already, or a requirement "
            "the agent does not report (agents older than report schema 2). The host API names what "
            "fails.",
            f"max(dozor_host_windows11_ready{{{host}}})",
            GOOD_IS_ONE,
            mappings=yes_no("ready", "ready", "not ready"),
            width=6,
        ),
        _stat(
            "Windows 10 support",
            "Windows 10 (not LTSC) after 14 October 2025 gets no security updates without paid "
            "Extended Security Updates.",
            f"max(dozor_host_windows10_end_of_support{{{host}}})",
            BAD_FROM_ONE,
            mappings=yes_no("in support", "ended", "in support"),
            width=6,
        ),
        _stat(
            "Clone conflict",
            "Another live PC enrolled with this PC's machine id: both were imaged from one master. "
            "Give one of them a new MachineGuid (sysprep) and enroll it again.",
            f"max(dozor_host_clone_conflict{{{host}}})",
            BAD_FROM_ONE,
            mappings=yes_no("none", "clone", "none"),
            width=6,
        ),
        _stat(
            "Awaiting approval",
            "Enrolled under enrollment.require_approval and not approved yet "
            "(dozor-collector hosts approve).",
            f"max(dozor_host_pending_approval{{{host}}})",
            WARN_FROM_ONE,
            mappings=yes_no("approved", "waiting", "approved"),
            width=6,
        ),
    ]
    hardware = [
        Panel(
            "table",
            "System",
            "Operating system and model as the agent reports them.",
            [
                prom(
                    "max by (os, os_version, manufacturer, model, agent_version, machine_id) "
                    f"(dozor_host_info{{{host}}})",
                    table=True,
                )
            ],
            rename={
                "Value": "",
                "os": "OS",
                "os_version": "OS version",
                "manufacturer": "Manufacturer",
                "model": "Model",
                "agent_version": "Agent",
                "machine_id": "Machine ID",
            },
            width=12,
            height=5,
        ),
        Panel(
            "table",
            "Disks (SMART)",
            "SMART health of each disk, where the PC reports it.",
            [prom(f"max by (disk, model) (dozor_host_disk_smart_healthy{{{host}}})", table=True)],
            rename={"disk": "Disk", "model": "Model", "Value": "SMART"},
            columns={
                "SMART": {"cell": "color-background", "mappings": yes_no("healthy", "healthy", "failing")}
            },
            width=12,
            height=5,
        ),
        Panel(
            "table",
            "Hardware (inventory)",
            "From the store: the last full inventory of the PC (needs the PostgreSQL store).",
            [
                sql(
                    "SELECT d.facts->'hardware'->'system'->>'manufacturer' AS manufacturer,\n"
                    "       d.facts->'hardware'->'system'->>'model' AS model,\n"
                    "       d.facts->'hardware'->'system'->>'serial' AS serial,\n"
                    "       d.facts->'hardware'->'cpu'->>'model' AS cpu,\n"
                    "       (d.facts->'hardware'->'memory'->>'total_bytes')::bigint AS memory,\n"
                    "       jsonb_array_length(COALESCE(d.facts->'hardware'->'disks', '[]'::jsonb))\n"
                    "         AS disks,\n"
                    "       d.facts->'hardware'->'system'->>'bios_version' AS bios,\n"
                    "       d.facts_at AS inventory_at\n"
                    "FROM devices d\n"
                    "WHERE d.kind = 'pc' AND d.hostname = '$host'"
                )
            ],
            columns={"memory": {"unit": "bytes"}},
            width=24,
            height=4,
        ),
    ]
    security = [
        Panel(
            "table",
            "Firewall profiles",
            "Each firewall profile: it should be on.",
            [prom(f"max by (profile) (dozor_host_firewall_enabled{{{host}}})", table=True)],
            rename={"profile": "Profile", "Value": "Firewall"},
            columns={"Firewall": {"cell": "color-background", "mappings": yes_no("on", "on", "off")}},
            width=6,
        ),
        Panel(
            "table",
            "Antivirus",
            "Each antivirus product: on, signatures current, and their age.",
            [
                prom(f"max by (product) (dozor_host_antivirus_enabled{{{host}}})", table=True),
                prom(f"max by (product) (dozor_host_antivirus_up_to_date{{{host}}})", table=True),
                prom(f"max by (product) (dozor_host_antivirus_signature_age_seconds{{{host}}})", table=True),
            ],
            rename={
                "product": "Product",
                "Value #A": "On",
                "Value #B": "Up to date",
                "Value #C": "Signature age",
            },
            columns={
                "On": {"cell": "color-background", "mappings": yes_no("yes")},
                "Up to date": {"cell": "color-background", "mappings": yes_no("yes")},
                "Signature age": {
                    "cell": "color-background",
                    "unit": "s",
                    "thresholds": steps("green", (3 * 86400, "orange"), (7 * 86400, "red")),
                },
            },
            width=10,
        ),
        Panel(
            "table",
            "Encrypted volumes",
            "Disk encryption (BitLocker, LUKS) of each volume.",
            [prom(f"max by (volume) (dozor_host_volume_encrypted{{{host}}})", table=True)],
            rename={"volume": "Volume", "Value": "Encrypted"},
            columns={"Encrypted": {"cell": "color-background", "mappings": yes_no("yes")}},
            width=8,
        ),
        Panel(
            "table",
            "Updates and settings",
            "Updates waiting, and the settings that widen the attack surface.",
            [
                prom(f"max(dozor_host_updates_pending{{{host}}})", table=True),
                prom(f"max(dozor_host_security_updates_pending{{{host}}})", table=True),
                prom(
                    f"max(dozor_host_updates_last_installed_timestamp_seconds{{{host}}}) * 1000", table=True
                ),
                prom(f"max(dozor_host_reboot_required{{{host}}})", table=True),
                prom(f"max(dozor_host_local_admins{{{host}}})", table=True),
                prom(f"max(dozor_host_guest_enabled{{{host}}})", table=True),
                prom(f"max(dozor_host_rdp_enabled{{{host}}})", table=True),
                prom(f"max(dozor_host_ssh_enabled{{{host}}})", table=True),
                prom(f"max(dozor_host_smb1_enabled{{{host}}})", table=True),
                prom(f"max(dozor_host_secure_boot_enabled{{{host}}})", table=True),
                prom(f"max(dozor_host_uac_enabled{{{host}}})", table=True),
            ],
            rename={
                "Value #A": "Updates",
                "Value #B": "Security updates",
                "Value #C": "Last installed",
                "Value #D": "Reboot needed",
                "Value #E": "Local admins",
                "Value #F": "Guest",
                "Value #G": "RDP",
                "Value #H": "SSH server",
                "Value #I": "SMBv1",
                "Value #J": "Secure Boot",
                "Value #K": "UAC",
            },
            columns={
                "Updates": {"cell": "color-background", "thresholds": WARN_FROM_ONE},
                "Security updates": {"cell": "color-background", "thresholds": BAD_FROM_ONE},
                "Last installed": {"unit": "dateTimeFromNow"},
                "Reboot needed": {"cell": "color-background", "mappings": yes_no("no")},
                "Local admins": {"thresholds": steps("green", (4, "orange"))},
                "Guest": {"cell": "color-background", "mappings": yes_no("no")},
                "RDP": {"cell": "color-background", "mappings": yes_no("no")},
                "SSH server": {"mappings": yes_no("no")},
                "SMBv1": {"cell": "color-background", "mappings": yes_no("no")},
                "Secure Boot": {"cell": "color-background", "mappings": yes_no("yes")},
                "UAC": {"cell": "color-background", "mappings": yes_no("yes")},
            },
            width=24,
            height=4,
        ),
    ]
    changes = [
        Panel(
            "table",
            "Changes of this PC",
            "Hardware, software and security changes recorded in the selected time range.",
            [
                sql(
                    'SELECT ce.at AS "time", ce.category, ce.kind AS change, ce.summary\n'
                    "FROM change_events ce JOIN devices d ON d.id = ce.device_id\n"
                    "WHERE d.kind = 'pc' AND d.hostname = '$host' AND $__timeFilter(ce.at)\n"
                    "ORDER BY ce.at DESC, ce.id DESC\n"
                    "LIMIT 500"
                )
            ],
            width=14,
            height=10,
        ),
        Panel(
            "table",
            "Installed software",
            "Every package installed on the PC, by name.",
            [
                sql(
                    "SELECT s.name, s.version, s.publisher, s.install_date\n"
                    "FROM installed_software s JOIN devices d ON d.id = s.device_id\n"
                    "WHERE d.kind = 'pc' AND d.hostname = '$host'\n"
                    "ORDER BY s.name, s.version"
                )
            ],
            width=10,
            height=10,
        ),
    ]
    return dashboard(
        "dozor-workstation",
        "Dozor — workstation",
        "One office PC: is it up, how it is doing, what it is made of, how well it is protected and "
        "what changed on it. SQL panels need the PostgreSQL store.",
        [
            SITE_HOSTS,
            prom_variable("host", "PC", 'label_values(dozor_host_up{site=~"$site"}, host)', multi=False),
        ],
        [
            Row("Status", status),
            Row("Health", health),
            Row("Hardware", hardware),
            Row("Security", security),
            Row("Changes and software", changes),
        ],
    )


# Problems a PC can have, each as "max by (host_id)" of a selector that is non-empty for the PCs
# that have it: (stat title, description, expression with {f} for the site/host selector).
SECURITY_PROBLEMS = (
    (
        "Firewall off",
        "PCs with a firewall profile switched off.",
        "max by (host_id) (dozor_host_firewall_enabled{f} == 0)",
    ),
    (
        "Antivirus off",
        "PCs where no antivirus product is on.",
        "max by (host_id) (dozor_host_antivirus_enabled{f}) == 0",
    ),
    (
        "Signatures > 3 days",
        "PCs whose freshest antivirus signatures are older than 3 days.",
        "min by (host_id) (dozor_host_antivirus_signature_age_seconds{f}) > 3 * 86400",
    ),
    (
        "Security updates",
        "PCs with security updates offered but not installed.",
        "max by (host_id) (dozor_host_security_updates_pending{f}) > 0",
    ),
    (
        "Reboot pending",
        "PCs whose installed updates wait for a reboot.",
        "max by (host_id) (dozor_host_reboot_required{f}) == 1",
    ),
    (
        "Unencrypted volume",
        "PCs with a volume that is not encrypted.",
        "max by (host_id) (dozor_host_volume_encrypted{f} == 0)",
    ),
    (
        "SMBv1 on",
        "PCs serving the obsolete SMBv1 protocol.",
        "max by (host_id) (dozor_host_smb1_enabled{f}) == 1",
    ),
    (
        "RDP on",
        "PCs accepting Remote Desktop connections.",
        "max by (host_id) (dozor_host_rdp_enabled{f}) == 1",
    ),
    (
        "Guest on",
        "PCs with the guest account enabled.",
        "max by (host_id) (dozor_host_guest_enabled{f}) == 1",
    ),
    (
        "UAC off",
        "Windows PCs with User Account Control off.",
        "max by (host_id) (dozor_host_uac_enabled{f}) == 0",
    ),
    (
        "Secure Boot off",
        "PCs booting without UEFI Secure Boot.",
        "max by (host_id) (dozor_host_secure_boot_enabled{f}) == 0",
    ),
    (
        "Many local admins",
        "PCs with more than 3 members of the local administrators group.",
        "max by (host_id) (dozor_host_local_admins{f}) > 3",
    ),
)


def security_posture() -> Json:
    selector = '{site=~"$site", host=~"$host"}'
    problems = [(title, text, expr.format(f=selector)) for title, text, expr in SECURITY_PROBLEMS]
    hosts = f"count(max by (host_id) (dozor_host_up{selector}))"
    any_problem = " or ".join(f"({expr})" for _, _, expr in problems)
    summary = [
        _stat(
            "Compliant PCs",
            "Share of PCs without any of the problems counted on this dashboard.",
            f"1 - (count({any_problem}) or vector(0)) / {hosts}",
            steps("red", (0.8, "orange"), (0.95, "green")),
            unit="percentunit",
            width=4,
        ),
        *(
            _stat(title, text, f"count({expr}) or vector(0)", width=4 if index < 5 else 3)
            for index, (title, text, expr) in enumerate(problems)
        ),
    ]
    by_host = Panel(
        "table",
        "Protection by PC",
        "One line per PC; coloured cells are the problems.",
        [
            prom(
                "sum by (host_id, host) "
                f"(1 - max by (host_id, host, profile) (dozor_host_firewall_enabled{selector}))",
                table=True,
            ),
            prom(f"max by (host_id, host) (dozor_host_antivirus_enabled{selector})", table=True),
            prom(
                f"min by (host_id, host) (dozor_host_antivirus_signature_age_seconds{selector})", table=True
            ),
            prom(f"max by (host_id, host) (dozor_host_security_updates_pending{selector})", table=True),
            prom(f"max by (host_id, host) (dozor_host_reboot_required{selector})", table=True),
            prom(
                "sum by (host_id, host) "
                f"(1 - max by (host_id, host, volume) (dozor_host_volume_encrypted{selector}))",
                table=True,
            ),
            prom(f"max by (host_id, host) (dozor_host_smb1_enabled{selector})", table=True),
            prom(f"max by (host_id, host) (dozor_host_rdp_enabled{selector})", table=True),
            prom(f"max by (host_id, host) (dozor_host_local_admins{selector})", table=True),
        ],
        rename={
            "host": "PC",
            "host_id": "ID",
            "Value #A": "Firewall profiles off",
            "Value #B": "Antivirus",
            "Value #C": "Signature age",
            "Value #D": "Security updates",
            "Value #E": "Reboot needed",
            "Value #F": "Unencrypted volumes",
            "Value #G": "SMBv1",
            "Value #H": "RDP",
            "Value #I": "Local admins",
        },
        columns={
            "Firewall profiles off": {"cell": "color-background", "thresholds": BAD_FROM_ONE},
            "Antivirus": {"cell": "color-background", "mappings": yes_no("on", "on", "off")},
            "Signature age": {
                "cell": "color-background",
                "unit": "s",
                "thresholds": steps("green", (3 * 86400, "orange"), (7 * 86400, "red")),
            },
            "Security updates": {"cell": "color-background", "thresholds": WARN_FROM_ONE},
            "Reboot needed": {"cell": "color-background", "mappings": yes_no("no")},
            "Unencrypted volumes": {"cell": "color-background", "thresholds": WARN_FROM_ONE},
            "SMBv1": {"cell": "color-background", "mappings": yes_no("no")},
            "RDP": {"cell": "color-background", "mappings": yes_no("no")},
            "Local admins": {"cell": "color-background", "thresholds": steps("green", (4, "orange"))},
        },
        width=24,
        height=10,
    )
    trend = Panel(
        "timeseries",
        "PCs with a problem over time",
        "How many PCs had each of the main problems.",
        [prom(f"count({expr}) or vector(0)", title) for title, _, expr in problems[:5]],
        decimals=0,
        minimum=0,
        width=12,
        height=8,
    )
    changes = Panel(
        "table",
        "Security changes",
        "Security settings that changed on PCs in the selected time range (from the store).",
        [
            sql(
                'SELECT ce.at AS "time", d.hostname AS pc, ce.kind AS change, ce.summary\n'
                "FROM change_events ce JOIN devices d ON d.id = ce.device_id\n"
                "WHERE ce.category = 'security' AND $__timeFilter(ce.at)\n"
                "ORDER BY ce.at DESC, ce.id DESC\n"
                "LIMIT 500"
            )
        ],
        width=12,
        height=8,
    )
    return dashboard(
        "dozor-security",
        "Dozor — security posture",
        "How well the council's PCs are protected: firewall, antivirus, updates, encryption and risky "
        "settings, fleet-wide and per PC.",
        [SITE_HOSTS, prom_variable("host", "PC", 'label_values(dozor_host_up{site=~"$site"}, host)')],
        [Row("Fleet", summary), Row("By PC", [by_host]), Row("Trend and changes", [trend, changes])],
    )


def _device_variables(kind: str, label: str) -> list[Json]:
    info = f'dozor_device_info{{kind="{kind}"}}'
    return [
        prom_variable("site", "Site", f"label_values({info}, site)"),
        prom_variable(
            "group", "Group", f'label_values(dozor_device_info{{kind="{kind}", site=~"$site"}}, group)'
        ),
        prom_variable(
            "device",
            label,
            f'label_values(dozor_device_info{{kind="{kind}", site=~"$site", group=~"$group"}}, device)',
            all_value=None,
        ),
    ]


def _device_status(kind: str, what: str, selector: str) -> list[Panel]:
    return [
        _stat(
            f"{what} answering",
            f"{what} that answered their last SNMP poll.",
            f'count(max by (device_id) (dozor_device_up{{kind="{kind}", {selector}}}) == 1) or vector(0)',
            NEUTRAL,
        ),
        _stat(
            f"{what} not answering",
            f"{what} whose last SNMP poll got no answer.",
            f'count(max by (device_id) (dozor_device_up{{kind="{kind}", {selector}}}) == 0) or vector(0)',
        ),
    ]


def _device_table(
    kind: str,
    selector: str,
    title: str,
    extra: list[Json],
    extra_names: dict[str, str],
    extra_columns: dict[str, Json],
) -> Panel:
    """One line per device: where it is, whether it answers and since when, plus ``extra`` values."""
    targets = [
        prom(
            "max by (device_id, device, address, location, group) "
            f'(dozor_device_info{{kind="{kind}", {selector}}})',
            table=True,
        ),
        prom(f"max by (device_id, device) (dozor_device_up{{{selector}}})", table=True),
        prom(
            f"max by (device_id, device) (dozor_device_last_success_timestamp_seconds{{{selector}}}) * 1000",
            table=True,
        ),
        *extra,
    ]
    return Panel(
        "table",
        title,
        "One line per device, as configured (location, group) and as last polled.",
        targets,
        rename={
            "device_id": "",
            "device": "Device",
            "address": "Address",
            "location": "Location",
            "group": "Group",
            "Value #A": "",
            "Value #B": "Answers",
            "Value #C": "Last answer",
            **extra_names,
        },
        columns={
            "Answers": {"cell": "color-background", "mappings": yes_no("yes")},
            "Last answer": {"unit": "dateTimeFromNow"},
            **extra_columns,
        },
        width=24,
        height=8,
    )


def network() -> Json:
    selector = 'site=~"$site", device=~"$device"'
    s = "{" + selector + "}"

    def rate(metric: str) -> str:
        return f"max by (device_id, device, interface) (rate({metric}{s}[$__rate_interval]))"

    receive = rate("dozor_interface_receive_bytes_total")
    transmit = rate("dozor_interface_transmit_bytes_total")
    status = [
        *_device_status("switch", "Switches", selector),
        _stat(
            "Ports up",
            "Switch ports that are operationally up.",
            f"count(max by (device_id, if_index) (dozor_interface_up{s}) == 1) or vector(0)",
            NEUTRAL,
        ),
        _stat(
            "Ports with errors",
            "Ports whose error counters grew in the last hour.",
            "count(max by (device_id, if_index) "
            f"(increase(dozor_interface_errors_total{s}[1h])) > 0) or vector(0)",
            WARN_FROM_ONE,
        ),
        Panel(
            "table",
            "Devices not answering (all kinds)",
            "Every polled device (switch, printer, UPS, other) whose last poll got no answer, "
            "with the error.",
            [
                prom(
                    'max by (device, kind, error) (dozor_device_poll_errors_total{site=~"$site"})'
                    ' and on (device) max by (device) (dozor_device_up{site=~"$site"} == 0)',
                    table=True,
                )
            ],
            rename={"device": "Device", "kind": "Kind", "error": "Error", "Value": "Failed polls"},
            columns={"Failed polls": {"cell": "color-background", "thresholds": BAD_FROM_ONE}},
            width=8,
            height=4,
        ),
    ]
    switches = _device_table(
        "switch",
        selector,
        "Switches",
        [
            prom(
                "count by (device_id, device) "
                f"(max by (device_id, device, if_index) (dozor_interface_up{s}) == 1)",
                table=True,
            ),
            prom(
                "count by (device_id, device) "
                f"(max by (device_id, device, if_index) (dozor_interface_up{s}))",
                table=True,
            ),
        ],
        {"Value #D": "Ports up", "Value #E": "Ports"},
        {},
    )
    traffic = [
        Panel(
            "timeseries",
            "Traffic through the switches",
            "Bits per second received and sent over all ports of the selected switches.",
            [
                prom(f"sum({receive}) * 8", "received"),
                prom(f"sum({transmit}) * 8", "sent"),
            ],
            unit="bps",
            minimum=0,
            width=12,
        ),
        Panel(
            "bargauge",
            "Top talkers (ports)",
            "The 10 busiest ports now, received plus sent.",
            [prom(f"topk(10, ({receive} + {transmit}) * 8)", "{{device}} {{interface}}", table=True)],
            unit="bps",
            thresholds=steps("green", (500e6, "orange"), (900e6, "red")),
            minimum=0,
            width=12,
        ),
        Panel(
            "timeseries",
            "Busiest ports",
            "Bits per second through the 10 busiest ports.",
            [prom(f"topk(10, ({receive} + {transmit}) * 8)", "{{device}} {{interface}}")],
            unit="bps",
            minimum=0,
            width=12,
        ),
        Panel(
            "timeseries",
            "Port errors",
            "Inbound plus outbound errors per second on the 10 worst ports: a bad cable or a duplex "
            "mismatch.",
            [prom(f"topk(10, {rate('dozor_interface_errors_total')})", "{{device}} {{interface}}")],
            unit="cps",
            thresholds=steps("green", (0.1, "red")),
            minimum=0,
            width=12,
        ),
    ]
    speed = f"max by (device_id, device, interface) (dozor_interface_speed_bytes{s})"
    ports = Panel(
        "table",
        "Ports",
        "Every port: state, speed, current traffic and how full the link is.",
        [
            prom(f"max by (device_id, device, interface) (dozor_interface_up{s})", table=True),
            prom(f"{speed} * 8", table=True),
            prom(f"{receive} * 8", table=True),
            prom(f"{transmit} * 8", table=True),
            prom(f"({receive} > {transmit} or {transmit}) / ({speed} > 0)", table=True),
            prom(
                f"increase(max by (device_id, device, interface) (dozor_interface_errors_total{s})[1h:])",
                table=True,
            ),
        ],
        rename={
            "device_id": "",
            "device": "Device",
            "interface": "Port",
            "Value #A": "Up",
            "Value #B": "Speed",
            "Value #C": "Received",
            "Value #D": "Sent",
            "Value #E": "Busiest direction",
            "Value #F": "Errors (1 h)",
        },
        columns={
            "Up": {"cell": "color-background", "mappings": yes_no("up", "up", "down")},
            "Speed": {"unit": "bps"},
            "Received": {"unit": "bps"},
            "Sent": {"unit": "bps"},
            "Busiest direction": {
                "cell": "gauge",
                "unit": "percentunit",
                "min": 0,
                "max": 1,
                "thresholds": steps("green", (0.7, "orange"), (0.9, "red")),
            },
            "Errors (1 h)": {"cell": "color-background", "thresholds": WARN_FROM_ONE},
        },
        width=24,
        height=12,
    )
    return dashboard(
        "dozor-network",
        "Dozor — network",
        "The switches polled over SNMP: which answer, their ports, traffic (rates of the interface "
        "totals), errors and the busiest ports. Unknown devices on the LAN appear once discovery lands.",
        _device_variables("switch", "Switch"),
        [
            Row("Status", status),
            Row("Switches", [switches]),
            Row("Traffic and errors", traffic),
            Row("Ports", [ports]),
        ],
    )


def printers() -> Json:
    selector = 'site=~"$site", device=~"$device"'
    s = "{" + selector + "}"
    days_left = (
        "min by (device_id, device, supply, colour) "
        f"((dozor_printer_supply_empty_timestamp_seconds{s} - time()) / 86400)"
    )
    levels = f"max by (device_id, device, supply, colour) (dozor_printer_supply_level_ratio{s})"
    consumables = (
        "max by (device_id, device, supply, colour) "
        f'(dozor_printer_supply_level_ratio{{{selector}, supply!~"(?i).*waste.*"}})'
    )
    status = [
        *_device_status("printer", "Printers", selector),
        _stat(
            "Supplies below 10 %",
            "Toner, ink and drums below 10 % (waste containers left out: they fill up).",
            f"count({consumables} < 0.10) or vector(0)",
            WARN_FROM_ONE,
        ),
        _stat(
            "Run out within 14 days",
            "Supplies forecast to run out within two weeks at the rate used since their last replacement.",
            f"count({days_left} < 14) or vector(0)",
            WARN_FROM_ONE,
        ),
        _stat(
            "Pages today",
            "Pages printed in the last 24 hours by the selected printers.",
            f"sum(max by (device_id) (increase(dozor_printer_pages_total{s}[1d])))",
            NEUTRAL,
            width=4,
        ),
        _stat(
            "Printers reporting a condition",
            "Printers reporting a condition now (paper jam, door open, toner low...).",
            f"count(max by (device_id) (dozor_printer_condition{s})) or vector(0)",
            WARN_FROM_ONE,
        ),
    ]
    supplies = [
        Panel(
            "bargauge",
            "Supply levels",
            "Each supply's level; red below 10 %.",
            [prom(levels, "{{device}} — {{supply}}", table=True)],
            unit="percentunit",
            thresholds=SUPPLY,
            minimum=0,
            maximum=1,
            width=12,
            height=12,
        ),
        Panel(
            "table",
            "Days until empty",
            "Forecast from the supply's use since it was last replaced (the collector keeps the history); "
            "absent until a day of use is seen.",
            [prom(days_left, table=True), prom(levels, table=True)],
            rename={
                "device_id": "",
                "device": "Printer",
                "supply": "Supply",
                "colour": "Colour",
                "Value #A": "Days left",
                "Value #B": "Level",
            },
            columns={
                "Days left": {
                    "cell": "color-background",
                    "unit": "d",
                    "decimals": 0,
                    "thresholds": DAYS_LEFT,
                },
                "Level": {"cell": "gauge", "unit": "percentunit", "min": 0, "max": 1, "thresholds": SUPPLY},
            },
            unit="none",
            width=12,
            height=12,
        ),
        Panel(
            "timeseries",
            "Supply levels over months",
            "The levels the collector sampled (on change and daily), from the store: longer than "
            "Prometheus keeps.",
            [
                sql(
                    'SELECT s.at AS "time",\n'
                    "       COALESCE(d.display_name, d.hostname) || ' — ' || s.supply AS metric,\n"
                    "       s.percent / 100.0 AS level\n"
                    "FROM supply_samples s JOIN devices d ON d.id = s.device_id\n"
                    "WHERE $__timeFilter(s.at) AND COALESCE(d.display_name, d.hostname) IN ($device)\n"
                    "ORDER BY 1",
                    fmt="time_series",
                )
            ],
            unit="percentunit",
            thresholds=SUPPLY,
            minimum=0,
            maximum=1,
            width=24,
        ),
    ]
    pages = [
        Panel(
            "timeseries",
            "Pages per day",
            "Pages printed over the preceding 24 hours, by printer.",
            [prom(f"max by (device) (increase(dozor_printer_pages_total{s}[1d]))", "{{device}}")],
            decimals=0,
            minimum=0,
            width=12,
        ),
        _device_table(
            "printer",
            selector,
            "Printers",
            [prom(f"max by (device_id, device) (dozor_printer_pages_total{s})", table=True)],
            {"Value #D": "Page counter"},
            {"Page counter": {"decimals": 0}},
        ),
        Panel(
            "table",
            "Conditions",
            "Conditions the printers report now.",
            [prom(f"max by (device, condition) (dozor_printer_condition{s})", table=True)],
            rename={"device": "Printer", "condition": "Condition", "Value": ""},
            width=12,
        ),
    ]
    pages[1].width = 12
    return dashboard(
        "dozor-printers",
        "Dozor — printers and supplies",
        "Printers polled over SNMP: supply levels, when each supply runs out, pages printed and the "
        "conditions they report.",
        _device_variables("printer", "Printer"),
        [Row("Status", status), Row("Supplies", supplies), Row("Pages and printers", pages)],
    )


def ups() -> Json:
    selector = 'site=~"$site", device=~"$device"'
    s = "{" + selector + "}"
    status = [
        *_device_status("ups", "UPSes", selector),
        _stat(
            "On battery",
            "UPSes running their output on battery now (mains power lost).",
            f"count(max by (device_id) (dozor_ups_on_battery{s}) == 1) or vector(0)",
        ),
        _stat(
            "Battery to replace",
            "UPSes that say their battery needs replacing.",
            f"count(max by (device_id) (dozor_ups_battery_replace_needed{s}) == 1) or vector(0)",
            WARN_FROM_ONE,
        ),
        _stat(
            "Shortest runtime",
            "The least runtime on battery any selected UPS estimates.",
            f"min(dozor_ups_runtime_remaining_seconds{s})",
            steps("red", (300, "orange"), (900, "green")),
            unit="s",
        ),
        _stat(
            "Highest load",
            "The highest output load of the selected UPSes, share of the rated capacity.",
            f"max(dozor_ups_load_ratio{s})",
            steps("green", (0.7, "orange"), (0.9, "red")),
            unit="percentunit",
        ),
    ]
    table = _device_table(
        "ups",
        selector,
        "UPSes",
        [
            prom(f"max by (device_id, device) (dozor_ups_on_battery{s})", table=True),
            prom(f"max by (device_id, device) (dozor_ups_battery_charge_ratio{s})", table=True),
            prom(f"max by (device_id, device) (dozor_ups_runtime_remaining_seconds{s})", table=True),
            prom(f"max by (device_id, device) (dozor_ups_load_ratio{s})", table=True),
            prom(f"max by (device_id, device) (dozor_ups_battery_replace_needed{s})", table=True),
        ],
        {
            "Value #D": "On battery",
            "Value #E": "Charge",
            "Value #F": "Runtime",
            "Value #G": "Load",
            "Value #H": "Replace battery",
        },
        {
            "On battery": {"cell": "color-background", "mappings": yes_no("no")},
            "Charge": {
                "cell": "gauge",
                "unit": "percentunit",
                "min": 0,
                "max": 1,
                "thresholds": steps("red", (0.5, "orange"), (0.9, "green")),
            },
            "Runtime": {
                "unit": "s",
                "cell": "color-background",
                "thresholds": steps("red", (300, "orange"), (900, "green")),
            },
            "Load": {
                "cell": "gauge",
                "unit": "percentunit",
                "min": 0,
                "max": 1,
                "thresholds": steps("green", (0.7, "orange"), (0.9, "red")),
            },
            "Replace battery": {"cell": "color-background", "mappings": yes_no("no")},
        },
    )
    graphs = [
        Panel(
            "timeseries",
            "Battery charge",
            "Battery charge of each UPS.",
            [prom(f"max by (device) (dozor_ups_battery_charge_ratio{s})", "{{device}}")],
            unit="percentunit",
            thresholds=steps("red", (0.5, "orange"), (0.9, "green")),
            minimum=0,
            maximum=1,
            width=8,
        ),
        Panel(
            "timeseries",
            "Runtime on battery",
            "Estimated runtime left on battery.",
            [prom(f"max by (device) (dozor_ups_runtime_remaining_seconds{s})", "{{device}}")],
            unit="s",
            thresholds=steps("red", (300, "orange"), (900, "green")),
            minimum=0,
            width=8,
        ),
        Panel(
            "timeseries",
            "Load and mains",
            "Output load, and 1 while the UPS runs on battery.",
            [
                prom(f"max by (device) (dozor_ups_load_ratio{s})", "{{device}} load"),
                prom(f"max by (device) (dozor_ups_on_battery{s})", "{{device}} on battery"),
            ],
            unit="percentunit",
            thresholds=steps("green", (0.7, "orange"), (0.9, "red")),
            minimum=0,
            width=8,
        ),
    ]
    return dashboard(
        "dozor-ups",
        "Dozor — UPS",
        "The UPSes polled over SNMP: on battery or mains, charge, runtime left, load and battery health.",
        _device_variables("ups", "UPS"),
        [Row("Status", status), Row("UPSes", [table]), Row("Over time", graphs)],
    )


CHANGE_FILTER = (
    "ce.category IN ($category) AND d.kind IN ($kind)\n"
    "  AND COALESCE(d.display_name, d.hostname) IN ($device) AND $__timeFilter(ce.at)"
)


def changes() -> Json:
    feed = Panel(
        "table",
        "Changes",
        "Every change recorded in the selected time range, newest first (at most 1000).",
        [
            sql(
                'SELECT ce.at AS "time", COALESCE(d.display_name, d.hostname) AS device, d.kind,\n'
                "       d.location, ce.source, ce.category, ce.kind AS change, ce.summary\n"
                "FROM change_events ce JOIN devices d ON d.id = ce.device_id\n"
                f"WHERE {CHANGE_FILTER}\n"
                "ORDER BY ce.at DESC, ce.id DESC\n"
                "LIMIT 1000"
            )
        ],
        columns={
            "change": {
                "cell": "color-text",
                "mappings": [
                    {
                        "type": "value",
                        "options": {
                            "added": {"color": "green", "index": 0},
                            "removed": {"color": "red", "index": 1},
                            "changed": {"color": "orange", "index": 2},
                        },
                    }
                ],
            }
        },
        width=24,
        height=16,
    )
    per_day = Panel(
        "timeseries",
        "Changes per day",
        "Changes recorded each day, by category (from the store).",
        [
            sql(
                "SELECT date_trunc('day', ce.at) AS \"time\", ce.category AS metric, count(*) AS changes\n"
                "FROM change_events ce JOIN devices d ON d.id = ce.device_id\n"
                f"WHERE {CHANGE_FILTER}\n"
                "GROUP BY 1, 2\n"
                "ORDER BY 1",
                fmt="time_series",
            )
        ],
        decimals=0,
        minimum=0,
        width=12,
    )
    recent = Panel(
        "timeseries",
        "Changes recorded per hour (Prometheus)",
        "What the collectors recorded, by category and kind, over the preceding hour.",
        [
            prom(
                'sum by (category, kind) (increase(dozor_change_events_total{site=~"$site"}[1h]))',
                "{{category}} {{kind}}",
            )
        ],
        decimals=0,
        minimum=0,
        width=12,
    )
    return dashboard(
        "dozor-changes",
        "Dozor — changes",
        "The change history of PCs and devices (hardware, software, security, system) from the store; "
        "needs the PostgreSQL store.",
        [
            prom_variable("site", "Site (Prometheus)", 'label_values(up{job="dozor"}, site)'),
            sql_variable("kind", "Device kind", "SELECT DISTINCT kind FROM devices ORDER BY 1"),
            custom_variable("category", "Category", ["hardware", "software", "security", "system"]),
            sql_variable(
                "device",
                "Device",
                "SELECT DISTINCT COALESCE(display_name, hostname) FROM devices WHERE kind IN ($kind) "
                "ORDER BY 1",
            ),
        ],
        [Row("Changes", [per_day, recent, feed])],
    )


DASHBOARDS = {
    "workstation.json": workstation,
    "security-posture.json": security_posture,
    "network.json": network,
    "printers.json": printers,
    "ups.json": ups,
    "changes.json": changes,
}


def render(build: Any) -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    for name, build in DASHBOARDS.items():
        (JSON_DIR / name).write_text(render(build), encoding="utf-8")
        print(f"wrote {JSON_DIR / name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
