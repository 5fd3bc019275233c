"""The SSH config backups' gauges and counters, rendered from the backup view."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from collector.metrics.exporters.families import Families
from collector.sources.ssh.view import BackupView


class BackupCollector(Collector):
    """Renders the SSH config backups' gauges and counters from the in-memory backup view."""

    def __init__(self, view: BackupView) -> None:
        self._view = view

    def collect(self) -> Iterator[Metric]:
        families = Families()
        for state in self._view.devices():
            device = (str(state.device_id), state.name)
            families.add("dozor_device_config_last_change_timestamp_seconds", device, state.last_change)
            families.add("dozor_device_config_changes_total", device, state.config_changes)
            families.add("dozor_device_ssh_host_key_mismatch", device, float(state.host_key_mismatch))
            families.add("dozor_device_backup_last_success_timestamp_seconds", device, state.last_success)
            for error, count in state.errors.items():
                families.add("dozor_device_backup_errors_total", (*device, error), count)
        yield from families
