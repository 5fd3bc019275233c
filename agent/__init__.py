"""Dozor agent: reports an office PC's hardware, software, security posture and health."""

__version__ = "0.1.0"
