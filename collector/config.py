"""The collector's configuration: one YAML file, validated at start.

Every key is optional; without a file the collector runs the embedded default (SQLite under the data
directory, listening on 127.0.0.1:8470). String values may reference environment variables as
``${NAME}`` so that secrets need not be written into the file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import yaml
from msgspec import Meta

from collector.config_base import ConfigError, Section
from collector.sources.discovery.config import DiscoveryConfig
from collector.sources.discovery.config import check as check_discovery
from collector.sources.snmp.config import SnmpConfig, SnmpCredential
from collector.sources.snmp.config import check as check_snmp
from collector.sources.ssh.config import SshConfig, SshCredential
from collector.sources.ssh.config import check as check_ssh

DEFAULT_LISTEN = "127.0.0.1:8470"
DEFAULT_DATA_DIR = Path("dozor-data")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class DatabaseConfig(Section):
    url: str | None = None
    """SQLAlchemy URL, e.g. ``postgresql+psycopg://dozor@db/dozor``; default SQLite in the data dir."""


class AuthConfig(Section):
    admin_token: Annotated[str, Meta(min_length=16)] | None = None
    """Bearer token of the admin API; default: generated into ``<data dir>/admin.token``."""
    enrollment_secret: Annotated[str, Meta(min_length=16)] | None = None
    """Shared secret agents enroll with; default: generated into ``<data dir>/enrollment.secret``."""
    token_cache_seconds: Annotated[float, Meta(ge=0, le=3600)] = 10.0
    """How long a replica trusts a verified agent token before asking the database again."""


class EnrollmentConfig(Section):
    require_approval: bool = False
    """A PC enrolled for the first time stays pending (its reports are stored, and flagged) until an
    administrator approves it (``dozor-collector hosts approve``, ``POST /api/v1/hosts/{id}/approve``)."""


class TlsConfig(Section):
    cert_file: Path | None = None
    key_file: Path | None = None


class IngestConfig(Section):
    max_body_bytes: Annotated[int, Meta(ge=1024)] = 4 * 1024 * 1024
    """Largest request body accepted, as sent (compressed)."""
    max_decompressed_bytes: Annotated[int, Meta(ge=1024)] = 32 * 1024 * 1024
    """Largest report after gunzip: the guard against gzip bombs."""
    batch_max: Annotated[int, Meta(ge=1, le=10_000)] = 500
    """Most reports committed in one database transaction."""
    queue_max: Annotated[int, Meta(ge=1)] = 5_000
    """Reports waiting for the writer before new ones get 503 (agents retry later)."""


class LivenessConfig(Section):
    offline_after_seconds: Annotated[float, Meta(gt=0)] = 300.0
    """A host that has sent nothing for this long is shown offline."""
    resync_seconds: Annotated[float, Meta(gt=0)] = 30.0
    """How often the in-memory fleet view is refreshed from the database (other replicas' reports)."""


class DownloadsConfig(Section):
    directory: Path | None = None
    """Served to anyone on the LAN at ``/downloads/``: the agent's MSI, the Linux wheelhouse, the CA
    certificate, with their SHA-256 (``/downloads/SHA256SUMS``). Put nothing secret there."""


class SmtpConfig(Section):
    """The mail server the daily digest goes through. ``repr`` hides the password."""

    host: Annotated[str, Meta(min_length=1, max_length=253)] | None = None
    port: Annotated[int, Meta(ge=1, le=65535)] = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    """``starttls`` upgrades a plain connection (port 587), ``ssl`` is TLS from the start (465)."""
    user: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    """CA certificate(s) (PEM) to verify the server with; default: the system's trusted CAs."""
    timeout_seconds: Annotated[float, Meta(gt=0, le=300)] = 30.0

    def __repr__(self) -> str:
        return (
            f"SmtpConfig(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"user={self.user!r}, password={'***' if self.password else None})"
        )

    __str__ = __repr__


class DigestConfig(Section):
    """The daily email to the sector chief, sent by the collector itself (no Alertmanager needed)."""

    enabled: bool = False
    send_at: Annotated[str, Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "08:00"
    """Local time of day (HH:MM) in ``timezone``."""
    timezone: str = "Europe/Kyiv"
    language: Literal["uk", "en"] = "uk"
    sender: str | None = None
    recipients: list[Annotated[str, Meta(min_length=3, max_length=254)]] = msgspec.field(default_factory=list)
    supplies_within_days: Annotated[float, Meta(gt=0, le=365)] = 14.0
    """Supplies forecast to run out within this many days (or below 10 %) are listed."""
    device_down_after_seconds: Annotated[float, Meta(gt=0)] = 3600.0
    """A polled device that has not answered for this long is listed as down."""
    smtp: SmtpConfig = msgspec.field(default_factory=SmtpConfig)


class CollectorConfig(Section):
    listen: Annotated[str, Meta(pattern=r"^[^:\s]+:\d{1,5}$")] = DEFAULT_LISTEN
    data_dir: Path = DEFAULT_DATA_DIR
    log_level: Annotated[str, Meta(pattern=r"^(?i:debug|info|warning|error)$")] = "info"
    local_agent: bool = False
    database: DatabaseConfig = msgspec.field(default_factory=DatabaseConfig)
    auth: AuthConfig = msgspec.field(default_factory=AuthConfig)
    enrollment: EnrollmentConfig = msgspec.field(default_factory=EnrollmentConfig)
    downloads: DownloadsConfig = msgspec.field(default_factory=DownloadsConfig)
    tls: TlsConfig = msgspec.field(default_factory=TlsConfig)
    ingest: IngestConfig = msgspec.field(default_factory=IngestConfig)
    liveness: LivenessConfig = msgspec.field(default_factory=LivenessConfig)
    snmp: SnmpConfig = msgspec.field(default_factory=SnmpConfig)
    ssh: SshConfig = msgspec.field(default_factory=SshConfig)
    digest: DigestConfig = msgspec.field(default_factory=DigestConfig)
    discovery: DiscoveryConfig = msgspec.field(default_factory=DiscoveryConfig)

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host, int(port)


def _expand_env(value: Any, path: str) -> Any:
    if isinstance(value, dict):
        return {key: _expand_env(item, f"{path}.{key}" if path else str(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand_env(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{path}: environment variable {name} is not set")
            return os.environ[name]

        return _ENV_REF.sub(substitute, value)
    return value


def _readable_path(msgspec_message: str) -> str:
    """msgspec says ``… - at `$.ingest.batch_max```; people write ``ingest.batch_max``."""
    message, _, where = msgspec_message.partition(" - at `$")
    where = where.rstrip("`").lstrip(".")
    unknown = re.match(r"Object contains unknown field `([^`]+)`", message)
    if unknown:
        key = f"{where}.{unknown.group(1)}" if where else unknown.group(1)
        return f"{key}: unknown key"
    return f"{where or '(top level)'}: {message[0].lower()}{message[1:]}"


def parse_config(text: str, source: str = "<config>") -> CollectorConfig:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level")
    try:
        document = _expand_env(document, "")
        _check_credentials(document)
        return _checked(msgspec.convert(document, CollectorConfig, dec_hook=_decode_path))
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {_readable_path(str(exc))}") from None


def _decode_path(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError


def load_config(path: Path | None) -> CollectorConfig:
    """The config from ``path``, or the embedded default when there is none."""
    if path is None:
        return CollectorConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    return parse_config(text, str(path))


def with_overrides(config: CollectorConfig, source: str, **overrides: Any) -> CollectorConfig:
    """The config with command-line values applied, validated like the file's own keys."""
    document = msgspec.to_builtins(config, enc_hook=str)
    document.update(
        {key: str(value) if isinstance(value, Path) else value for key, value in overrides.items()}
    )
    try:
        return _checked(msgspec.convert(document, CollectorConfig, dec_hook=_decode_path))
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {_readable_path(str(exc))}") from None


def _check_credentials(document: dict[str, Any]) -> None:
    """Decode each SNMP and SSH credential alone first: msgspec names a mapping's entry ``[...]``,
    people want ``snmp.credentials.office.auth_key``."""
    for section, kind in (("snmp", SnmpCredential), ("ssh", SshCredential)):
        found = document.get(section)
        credentials = found.get("credentials") if isinstance(found, dict) else None
        if not isinstance(credentials, dict):
            continue
        for name, entry in credentials.items():
            try:
                msgspec.convert(entry, kind, dec_hook=_decode_path)
            except msgspec.ValidationError as exc:
                where = _readable_path(str(exc))
                where = where.removeprefix("(top level)")
                separator = "" if where.startswith(":") else "."
                raise ConfigError(f"{section}.credentials.{name}{separator}{where}") from None


def _checked(config: CollectorConfig) -> CollectorConfig:
    """Checks across keys that the types cannot express."""
    _check_digest(config.digest)
    check_snmp(config.snmp)
    check_ssh(config.ssh)
    check_discovery(config.discovery)
    return config


def _check_digest(digest: DigestConfig) -> None:
    try:
        ZoneInfo(digest.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"digest.timezone: unknown time zone {digest.timezone!r}") from None
    if not digest.enabled:
        return
    missing = [
        key
        for key, value in (
            ("digest.smtp.host", digest.smtp.host),
            ("digest.sender", digest.sender),
            ("digest.recipients", digest.recipients),
        )
        if not value
    ]
    if missing:
        raise ConfigError(f"{missing[0]}: needed when digest.enabled is true")
    if (digest.smtp.user is None) != (digest.smtp.password is None):
        raise ConfigError("digest.smtp: user and password go together")
