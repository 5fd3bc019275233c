"""Pollers: the collector reaching out to devices (SNMP now; SSH and discovery later)."""
