"""Dozor collector: receives agent reports, keeps the inventory and its history, exposes metrics."""

__version__ = "0.1.0"
