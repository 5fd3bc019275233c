"""The metric families of one scrape, created on first use from their declarations."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from collector.metrics.specs import SPEC


def as_float(value: bool | None) -> float | None:
    return None if value is None else float(value)


class Families:
    """Families for one scrape, created on first use from their declarations."""

    def __init__(self) -> None:
        self._families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}

    def add(self, name: str, labels: tuple[str, ...], value: float | None) -> None:
        if value is None:
            return
        family = self._families.get(name)
        if family is None:
            spec = SPEC[name]
            if spec.type == "counter":
                family = CounterMetricFamily(name.removesuffix("_total"), spec.help, labels=spec.labels)
            else:
                family = GaugeMetricFamily(name, spec.help, labels=spec.labels)
            self._families[name] = family
        family.add_metric(labels, value)

    def __iter__(self) -> Iterator[Metric]:
        return iter(self._families.values())
