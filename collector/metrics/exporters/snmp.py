"""The polled devices' gauges and counters (device, interface, printer, UPS), rendered from the
SNMP device view."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from collector.metrics.exporters.families import Families
from collector.sources.snmp.view import DeviceState, DeviceView


class DeviceCollector(Collector):
    """Renders the polled devices' gauges and counters from the in-memory device view."""

    def __init__(self, view: DeviceView) -> None:
        self._view = view

    def collect(self) -> Iterator[Metric]:
        families = Families()
        for state in self._view.devices():
            _device_metrics(families, state)
        yield from families


YES_NO = {"yes": 1.0, "no": 0.0}
"""Facts a profile maps to yes/no (``replace_battery``) as a gauge."""


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _ratio(percent: object) -> float | None:
    value = _number(percent)
    return None if value is None else value / 100


def _device_metrics(out: Families, state: DeviceState) -> None:
    device = (str(state.device_id), state.identity.name)
    identity = state.identity
    kind = identity.kind
    out.add(
        "dozor_device_info",
        (*device, kind, identity.address, identity.location or "", identity.group or ""),
        1,
    )
    out.add("dozor_device_up", (*device, kind), float(state.up))
    out.add("dozor_device_last_success_timestamp_seconds", (*device, kind), state.last_success)
    for error, count in state.poll_errors.items():
        out.add("dozor_device_poll_errors_total", (*device, kind, error), count)
    for nic in state.interfaces:
        labels = (*device, str(nic.get("name") or nic.get("descr") or ""), str(nic.get("if_index")))
        oper = nic.get("oper_status")
        out.add("dozor_interface_up", labels, None if oper is None else float(oper == "up"))
        if {nic.get("name"), nic.get("descr")} & state.uplinks:
            out.add("dozor_interface_uplink", labels, 1)
        out.add("dozor_interface_receive_bytes_total", labels, _number(nic.get("in_octets_total")))
        out.add("dozor_interface_transmit_bytes_total", labels, _number(nic.get("out_octets_total")))
        errors = [_number(nic.get("in_errors_total")), _number(nic.get("out_errors_total"))]
        known = [count for count in errors if count is not None]
        out.add("dozor_interface_errors_total", labels, sum(known) if known else None)
        speed = _number(nic.get("speed_bps"))
        out.add("dozor_interface_speed_bytes", labels, None if speed is None else speed / 8)
    for supply in state.supplies:
        labels = (*device, supply["name"], str(supply.get("colour") or ""))
        out.add("dozor_printer_supply_level_ratio", labels, _ratio(supply.get("percent")))
        out.add("dozor_printer_supply_empty_timestamp_seconds", labels, supply.get("empty_at"))
    if state.printer:
        out.add("dozor_printer_pages_total", device, _number(state.printer.get("page_count")))
        for condition in state.printer.get("conditions") or ():
            out.add("dozor_printer_condition", (*device, str(condition)), 1)
    if state.ups:
        on_battery = state.ups.get("on_battery")
        out.add("dozor_ups_on_battery", device, None if on_battery is None else float(on_battery))
        out.add("dozor_ups_battery_charge_ratio", device, _ratio(state.ups.get("charge_percent")))
        minutes = _number(state.ups.get("runtime_minutes"))
        out.add("dozor_ups_runtime_remaining_seconds", device, None if minutes is None else minutes * 60)
        out.add("dozor_ups_load_ratio", device, _ratio(state.ups.get("load_percent")))
        replace_needed = YES_NO.get(state.ups.get("replace_battery"))
        out.add("dozor_ups_battery_replace_needed", device, replace_needed)
