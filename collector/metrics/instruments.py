"""The collector's own counters, histograms and gauges (ingest, enrollment, polls): plain
prometheus_client instruments created from their declarations in :mod:`collector.metrics.specs`.

Anything may import this module: the sources count their skipped runs and change events here.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from collector.metrics.specs import SPEC

# ``*_created`` series double the output and no dashboard or rule of ours reads them.
disable_created_metrics()

_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class CollectorMetrics:
    """The collector's own instruments, registered in ``registry`` from their declarations."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.reports_accepted = self._counter(registry, "dozor_reports_accepted_total")
        self.reports_duplicate = self._counter(registry, "dozor_reports_duplicate_total")
        self.reports_rejected = self._counter(registry, "dozor_reports_rejected_total")
        self.sequence_gaps = self._counter(registry, "dozor_report_sequence_gaps_total")
        self.enrollments = self._counter(registry, "dozor_enrollments_total")
        self.change_events = self._counter(registry, "dozor_change_events_total")
        self.db_errors = self._counter(registry, "dozor_db_errors_total")
        self.poll_runs_skipped = self._counter(registry, "dozor_poll_runs_skipped_total")
        self.ingest_duration = self._histogram(registry, "dozor_ingest_duration_seconds", _LATENCY_BUCKETS)
        self.db_write_duration = self._histogram(
            registry, "dozor_db_write_duration_seconds", _LATENCY_BUCKETS
        )
        self.db_batch_size = self._histogram(registry, "dozor_db_write_batch_reports", _BATCH_BUCKETS)
        spec = SPEC["dozor_ingest_queue_reports"]
        self.queue_depth = Gauge(spec.name, spec.help, spec.labels, registry=registry)

    @staticmethod
    def _counter(registry: CollectorRegistry, name: str) -> Counter:
        spec = SPEC[name]
        return Counter(spec.name.removesuffix("_total"), spec.help, spec.labels, registry=registry)

    @staticmethod
    def _histogram(registry: CollectorRegistry, name: str, buckets: tuple[float, ...]) -> Histogram:
        spec = SPEC[name]
        return Histogram(spec.name, spec.help, spec.labels, buckets=buckets, registry=registry)
