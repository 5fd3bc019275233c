"""The report contract, shared by the agent (which builds it) and the collector (which validates it)."""

from agent.schema.report import SCHEMA_VERSION, Health, Inventory, ProbeError, Report

__all__ = ["SCHEMA_VERSION", "Health", "Inventory", "ProbeError", "Report"]
