"""The collector's configuration: one YAML file, validated at start.

Every key is optional; without a file the collector runs the embedded default (SQLite under the data
directory, listening on 127.0.0.1:8470). String values may reference environment variables as
``${NAME}`` so that secrets need not be written into the file.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import yaml
from msgspec import Meta, Struct

DEFAULT_LISTEN = "127.0.0.1:8470"
DEFAULT_DATA_DIR = Path("dozor-data")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """A configuration problem, worded for the person who wrote the file."""


class _Section(Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class DatabaseConfig(_Section):
    url: str | None = None
    """SQLAlchemy URL, e.g. ``postgresql+psycopg://dozor@db/dozor``; default SQLite in the data dir."""


class AuthConfig(_Section):
    admin_token: Annotated[str, Meta(min_length=16)] | None = None
    """Bearer token of the admin API; default: generated into ``<data dir>/admin.token``."""
    enrollment_secret: Annotated[str, Meta(min_length=16)] | None = None
    """Shared secret agents enroll with; default: generated into ``<data dir>/enrollment.secret``."""
    token_cache_seconds: Annotated[float, Meta(ge=0, le=3600)] = 10.0
    """How long a replica trusts a verified agent token before asking the database again."""


class TlsConfig(_Section):
    cert_file: Path | None = None
    key_file: Path | None = None


class IngestConfig(_Section):
    max_body_bytes: Annotated[int, Meta(ge=1024)] = 4 * 1024 * 1024
    """Largest request body accepted, as sent (compressed)."""
    max_decompressed_bytes: Annotated[int, Meta(ge=1024)] = 32 * 1024 * 1024
    """Largest report after gunzip: the guard against gzip bombs."""
    batch_max: Annotated[int, Meta(ge=1, le=10_000)] = 500
    """Most reports committed in one database transaction."""
    queue_max: Annotated[int, Meta(ge=1)] = 5_000
    """Reports waiting for the writer before new ones get 503 (agents retry later)."""


class LivenessConfig(_Section):
    offline_after_seconds: Annotated[float, Meta(gt=0)] = 300.0
    """A host that has sent nothing for this long is shown offline."""
    resync_seconds: Annotated[float, Meta(gt=0)] = 30.0
    """How often the in-memory fleet view is refreshed from the database (other replicas' reports)."""


_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


class SnmpCredential(_Section):
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


class SnmpDevice(_Section, kw_only=True):
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

    def address_ok(self) -> bool:
        try:
            ipaddress.ip_address(self.address)
        except ValueError:
            return _HOSTNAME.match(self.address) is not None
        return True


class SnmpConfig(_Section):
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


class SmtpConfig(_Section):
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


class DigestConfig(_Section):
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


class SshCredential(_Section):
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


class SshDevice(_Section, kw_only=True):
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

    address_ok = SnmpDevice.address_ok


class SshConfig(_Section):
    credentials: dict[str, SshCredential] = msgspec.field(default_factory=dict)
    devices: list[SshDevice] = msgspec.field(default_factory=list)
    interval_seconds: Annotated[float, Meta(ge=10, le=7 * 86_400)] = 3600.0
    """How often every device's running config and CLI facts are fetched."""
    timeout_seconds: Annotated[float, Meta(gt=0, le=600)] = 60.0
    """The whole session of one device (connect, login, every command) must end within this."""
    max_concurrent_backups: Annotated[int, Meta(ge=1, le=256)] = 16
    """Sessions in flight at once (each holds a worker thread)."""


class DiscoveryConfig(_Section):
    """LAN discovery: an ARP/ICMP sweep of the listed subnets, matched with the switches'
    forwarding tables and the agents' interfaces (``collector.sources.discovery``)."""

    interface: Annotated[str, Meta(min_length=1, max_length=15)] | None = None
    """The network interface the sweep sends through (needed when ``subnets`` is not empty)."""
    subnets: list[Annotated[str, Meta(min_length=1, max_length=43)]] = msgspec.field(default_factory=list)
    """IPv4 CIDRs to sweep; nothing else is ever sent to. Empty: no sweep and no discovery."""
    rate_pps: Annotated[int, Meta(ge=1, le=10_000)] = 500
    """Most packets sent per second (ARP and ICMP together)."""
    timeout: Annotated[float, Meta(gt=0, le=30)] = 1.0
    """Seconds to listen after the last request."""
    retries: Annotated[int, Meta(ge=0, le=5)] = 1
    max_prefix: Annotated[int, Meta(ge=16, le=32)] = 22
    """A subnet larger than /max_prefix is refused (a typo must not sweep a /8)."""
    names: bool = True
    """Ask what answered for its name: reverse DNS, NetBIOS, mDNS."""
    name_timeout: Annotated[float, Meta(gt=0, le=30)] = 1.0
    interval_seconds: Annotated[float, Meta(ge=60, le=7 * 86_400)] = 900.0
    """How often the LAN is swept and the port map recorded."""
    many_macs: Annotated[int, Meta(ge=2, le=10_000)] = 10
    """MACs on one switch port from which it counts as an uplink, not an access port."""
    auto_accept: bool = True
    """Agents' PCs and configured SNMP/SSH devices are accepted into operation when first
    registered; false: they wait, like devices found on the LAN, for an administrator."""


class CollectorConfig(_Section):
    listen: Annotated[str, Meta(pattern=r"^[^:\s]+:\d{1,5}$")] = DEFAULT_LISTEN
    data_dir: Path = DEFAULT_DATA_DIR
    log_level: Annotated[str, Meta(pattern=r"^(?i:debug|info|warning|error)$")] = "info"
    local_agent: bool = False
    database: DatabaseConfig = msgspec.field(default_factory=DatabaseConfig)
    auth: AuthConfig = msgspec.field(default_factory=AuthConfig)
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
    known = config.snmp.credentials
    for name, credential in known.items():
        problem = credential.problem()
        if problem:
            raise ConfigError(f"snmp.credentials.{name}: {problem}")
    for index, device in enumerate(config.snmp.devices):
        if not device.address_ok():
            raise ConfigError(
                f"snmp.devices[{index}].address: {device.address!r} is neither an IP address nor a hostname"
            )
        if device.credential not in known:
            names = ", ".join(sorted(known)) or "none are defined"
            raise ConfigError(
                f"snmp.devices[{index}].credential: no credential {device.credential!r} in "
                f"snmp.credentials ({names})"
            )
    _check_ssh(config.ssh)
    _check_discovery(config.discovery)
    return config


def _check_discovery(discovery: DiscoveryConfig) -> None:
    if not discovery.subnets:
        return
    if discovery.interface is None:
        raise ConfigError("discovery.interface: needed when discovery.subnets is not empty")
    from collector.sources.discovery.model import DiscoveryError  # only when a sweep is configured
    from collector.sources.discovery.sweep import parse_subnets

    try:
        parse_subnets(discovery.subnets, discovery.max_prefix)
    except DiscoveryError as exc:
        raise ConfigError(f"discovery.subnets: {exc.message}") from None


def _check_ssh(ssh: SshConfig) -> None:
    for name, credential in ssh.credentials.items():
        problem = credential.problem()
        if problem:
            raise ConfigError(f"ssh.credentials.{name}: {problem}")
    if not ssh.devices:
        return
    from collector.sources.ssh.platforms import platforms  # only when SSH is configured

    known_platforms = platforms()
    for index, device in enumerate(ssh.devices):
        if not device.address_ok():
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
