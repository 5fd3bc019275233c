"""The ``snmp`` section: named credentials (v2c community or v3 user) and the devices to poll."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from collector.config_base import ConfigError, Section, is_address


class SnmpCredential(Section):
    """A v2c community or a v3 USM user (SHA/SHA-256 auth, AES privacy). ``repr`` hides the secrets."""

    version: Literal["2c", "3"] = "2c"
    community: str | None = None
    user: str | None = None
    auth_protocol: Literal["sha", "sha256"] | None = None
    auth_key: Annotated[str, Meta(min_length=8)] | None = None
    priv_protocol: Literal["aes128", "aes256"] | None = None
    priv_key: Annotated[str, Meta(min_length=8)] | None = None

    def problem(self) -> str | None:
        """What is inconsistent between the keys (checked after decoding, to name the entry)."""
        if self.version == "2c":
            extra = [name for name in _V3_FIELDS if getattr(self, name) is not None]
            if extra:
                return f"version 2c takes only a community, not {', '.join(extra)}"
            return None if self.community else "version 2c needs a community"
        if self.community is not None:
            return "version 3 takes a user and keys, not a community"
        if not self.user:
            return "version 3 needs a user"
        if (self.auth_protocol is None) != (self.auth_key is None):
            return "auth_protocol and auth_key go together"
        if (self.priv_protocol is None) != (self.priv_key is None):
            return "priv_protocol and priv_key go together"
        if self.priv_protocol is not None and self.auth_protocol is None:
            return "privacy (priv_protocol) needs authentication (auth_protocol)"
        return None

    def __repr__(self) -> str:
        if self.version == "2c":
            return "SnmpCredential(version='2c', community=***)"
        return (
            f"SnmpCredential(version='3', user={self.user!r}, auth_protocol={self.auth_protocol!r}, "
            f"auth_key={'***' if self.auth_key else None}, priv_protocol={self.priv_protocol!r}, "
            f"priv_key={'***' if self.priv_key else None})"
        )

    __str__ = __repr__


_V3_FIELDS = ("user", "auth_protocol", "auth_key", "priv_protocol", "priv_key")


class SnmpDevice(Section, kw_only=True):
    address: Annotated[str, Meta(min_length=1, max_length=253)]
    """IPv4 or IPv6 literal, or a hostname."""
    port: Annotated[int, Meta(ge=1, le=65535)] = 161
    credential: str
    """The name of an entry of ``snmp.credentials``."""
    kind: Literal["switch", "printer", "ups", "other"] | None = None
    """None: guessed from what the device answers."""
    name: Annotated[str, Meta(max_length=256)] | None = None
    location: Annotated[str, Meta(max_length=256)] | None = None
    group: Annotated[str, Meta(max_length=256)] | None = None


class SnmpConfig(Section):
    credentials: dict[str, SnmpCredential] = msgspec.field(default_factory=dict)
    devices: list[SnmpDevice] = msgspec.field(default_factory=list)
    interval_seconds: Annotated[float, Meta(ge=10, le=86_400)] = 300.0
    """How often every device is polled."""
    timeout_seconds: Annotated[float, Meta(gt=0, le=60)] = 2.0
    """Per request."""
    retries: Annotated[int, Meta(ge=0, le=10)] = 1
    max_repetitions: Annotated[int, Meta(ge=1, le=200)] = 25
    """GETBULK rows per request."""
    max_rows: Annotated[int, Meta(ge=1)] = 10_000
    """Most rows read from one table walk (the guard against endless walks)."""
    max_concurrent_polls: Annotated[int, Meta(ge=1, le=1024)] = 32
    """Polls in flight at once; devices whose last poll failed share a quarter of them."""


def check(snmp: SnmpConfig) -> None:
    """Checks across keys that the types cannot express."""
    known = snmp.credentials
    for name, credential in known.items():
        problem = credential.problem()
        if problem:
            raise ConfigError(f"snmp.credentials.{name}: {problem}")
    for index, device in enumerate(snmp.devices):
        if not is_address(device.address):
            raise ConfigError(
                f"snmp.devices[{index}].address: {device.address!r} is neither an IP address nor a hostname"
            )
        if device.credential not in known:
            names = ", ".join(sorted(known)) or "none are defined"
            raise ConfigError(
                f"snmp.devices[{index}].credential: no credential {device.credential!r} in "
                f"snmp.credentials ({names})"
            )
