"""The ``ssh`` section: named logins and the devices whose configs are backed up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from collector.config_base import ConfigError, Section, is_address
from collector.sources.ssh.platforms import platforms


class SshCredential(Section):
    """A login for network gear: a password or a private key file, and an optional enable secret.
    ``repr`` hides the secrets."""

    username: Annotated[str, Meta(min_length=1, max_length=256)]
    password: Annotated[str, Meta(min_length=1)] | None = None
    key_file: Path | None = None
    """A private key (OpenSSH or PEM) readable by the collector."""
    enable_secret: Annotated[str, Meta(min_length=1)] | None = None
    """For platforms whose running config needs privileged mode (Cisco ``enable``, ProCurve)."""

    def problem(self) -> str | None:
        if self.password is None and self.key_file is None:
            return "needs a password or a key_file"
        if self.key_file is not None and not self.key_file.is_file():
            return f"key_file {self.key_file} is not a readable file"
        return None

    def __repr__(self) -> str:
        return (
            f"SshCredential(username={self.username!r}, password={'***' if self.password else None}, "
            f"key_file={str(self.key_file) if self.key_file else None!r}, "
            f"enable_secret={'***' if self.enable_secret else None})"
        )

    __str__ = __repr__


class SshDevice(Section, kw_only=True):
    address: Annotated[str, Meta(min_length=1, max_length=253)]
    """IPv4 or IPv6 literal, or a hostname; the same address as an SNMP device means the same device."""
    port: Annotated[int, Meta(ge=1, le=65535)] = 22
    platform: str
    """A platform of ``collector/sources/ssh/platforms.yaml`` (``cisco_ios``, ``hp_procurve``, …)."""
    credential: str
    """The name of an entry of ``ssh.credentials``."""
    name: Annotated[str, Meta(max_length=256)] | None = None
    location: Annotated[str, Meta(max_length=256)] | None = None
    group: Annotated[str, Meta(max_length=256)] | None = None


class SshConfig(Section):
    credentials: dict[str, SshCredential] = msgspec.field(default_factory=dict)
    devices: list[SshDevice] = msgspec.field(default_factory=list)
    interval_seconds: Annotated[float, Meta(ge=10, le=7 * 86_400)] = 3600.0
    """How often every device's running config and CLI facts are fetched."""
    timeout_seconds: Annotated[float, Meta(gt=0, le=600)] = 60.0
    """The whole session of one device (connect, login, every command) must end within this."""
    max_concurrent_backups: Annotated[int, Meta(ge=1, le=256)] = 16
    """Sessions in flight at once (each holds a worker thread)."""


def check(ssh: SshConfig) -> None:
    """Checks across keys that the types cannot express, and the platform names."""
    for name, credential in ssh.credentials.items():
        problem = credential.problem()
        if problem:
            raise ConfigError(f"ssh.credentials.{name}: {problem}")
    if not ssh.devices:
        return
    known_platforms = platforms()
    for index, device in enumerate(ssh.devices):
        if not is_address(device.address):
            raise ConfigError(
                f"ssh.devices[{index}].address: {device.address!r} is neither an IP address nor a hostname"
            )
        if device.platform not in known_platforms:
            raise ConfigError(
                f"ssh.devices[{index}].platform: unknown platform {device.platform!r}; known: "
                f"{', '.join(sorted(known_platforms))}"
            )
        if device.credential not in ssh.credentials:
            names = ", ".join(sorted(ssh.credentials)) or "none are defined"
            raise ConfigError(
                f"ssh.devices[{index}].credential: no credential {device.credential!r} in "
                f"ssh.credentials ({names})"
            )
