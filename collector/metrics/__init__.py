"""Prometheus metrics: the declarations and the collector's own instruments (``specs``,
``instruments``: anyone may import them) and one exporter per source (``exporters``: imported by the
composition root only)."""
