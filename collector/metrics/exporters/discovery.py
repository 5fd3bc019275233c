"""LAN discovery's gauges and counters, rendered from the discovery view."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from collector.metrics.exporters.families import Families
from collector.metrics.specs import UNKNOWN_INFO_MAX
from collector.sources.discovery.view import DiscoveryView


class DiscoveryCollector(Collector):
    """Renders LAN discovery's gauges and counters from the in-memory discovery view."""

    def __init__(self, view: DiscoveryView) -> None:
        self._view = view

    def collect(self) -> Iterator[Metric]:
        state = self._view.state()
        if not state.ran:
            return
        families = Families()
        families.add("dozor_discovery_unknown_devices", (), float(len(state.unknown)))
        for device in state.unknown[:UNKNOWN_INFO_MAX]:
            labels = (
                str(device.device_id),
                device.mac or "",
                device.vendor or "",
                device.switch or "",
                device.port or "",
                "" if device.vlan is None else str(device.vlan),
            )
            families.add("dozor_discovery_unknown_device_info", labels, 1.0)
        families.add("dozor_discovery_sweep_duration_seconds", (), state.sweep_seconds)
        for error, count in state.errors.items():
            families.add("dozor_discovery_errors_total", (error,), count)
        families.add("dozor_discovery_last_success_timestamp_seconds", (), state.last_success)
        yield from families
