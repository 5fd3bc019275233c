"""What every config section shares, the sources' own sections included: the base struct (unknown
keys refused), the error worded for the person who wrote the file, and address checks."""

from __future__ import annotations

import ipaddress
import re

from msgspec import Struct


class ConfigError(Exception):
    """A configuration problem, worded for the person who wrote the file."""


class Section(Struct, forbid_unknown_fields=True, kw_only=True):
    pass


HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


def is_address(text: str) -> bool:
    """An IPv4 or IPv6 literal, or a well-formed hostname."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return HOSTNAME.match(text) is not None
    return True
