"""health.sensors (every platform, psutil): temperatures and fans where psutil reads them (Linux
hwmon; not Windows) and the battery where there is one. A reading outside what the schema allows
(a sensor that reports nonsense) is dropped rather than failing the probe."""

from __future__ import annotations

from typing import Any

import psutil

from agent.probes.base import Raw, text
from agent.probes.health import snapshot
from agent.schema.report import Battery, Fan, Temperature

_CELSIUS_RANGE = (-273.15, 1000.0)


def collect() -> dict[str, str | bytes]:
    # Each reader exists only where psutil supports it (no temperatures or fans on Windows).
    readers = {"temperatures": "sensors_temperatures", "fans": "sensors_fans", "battery": "sensors_battery"}
    return snapshot.dump(
        {key: reader() if (reader := getattr(psutil, name, None)) else None for key, name in readers.items()}
    )


def _celsius(value: Any) -> float | None:
    if isinstance(value, int | float) and _CELSIUS_RANGE[0] <= value <= _CELSIUS_RANGE[1]:
        return float(value)
    return None


def _temperatures(sensors: dict[str, list[dict[str, Any]]]) -> list[Temperature]:
    readings = []
    for sensor, entries in sorted(sensors.items()):
        for index, entry in enumerate(entries):
            current = _celsius(entry.get("current"))
            if current is None:
                continue
            readings.append(
                Temperature(
                    sensor=sensor,
                    label=text(entry.get("label")) or f"{sensor} {index}",
                    current_celsius=current,
                    high_celsius=_celsius(entry.get("high")),
                    critical_celsius=_celsius(entry.get("critical")),
                )
            )
    return readings


def _fans(sensors: dict[str, list[dict[str, Any]]]) -> list[Fan]:
    return [
        Fan(sensor=sensor, label=text(entry.get("label")) or f"{sensor} {index}", rpm=entry["current"])
        for sensor, entries in sorted(sensors.items())
        for index, entry in enumerate(entries)
        if isinstance(entry.get("current"), int) and 0 <= entry["current"] <= 1_000_000
    ]


def _battery(battery: dict[str, Any] | None) -> Battery | None:
    if not battery or not isinstance(battery.get("percent"), int | float):
        return None
    seconds = battery.get("secsleft")
    return Battery(
        percent=min(max(float(battery["percent"]), 0.0), 100.0),
        power_plugged=battery.get("power_plugged"),
        # psutil's POWER_TIME_UNKNOWN (-1) and POWER_TIME_UNLIMITED (-2), i.e. on mains.
        seconds_left=float(seconds) if isinstance(seconds, int | float) and seconds >= 0 else None,
    )


def parse(raw: Raw) -> dict[str, Any]:
    data = snapshot.load(raw)
    temperatures, fans = data.get("temperatures"), data.get("fans")
    return {
        "temperatures": _temperatures(temperatures) if temperatures is not None else None,
        "fans": _fans(fans) if fans is not None else None,
        "battery": _battery(data.get("battery")),
    }
