"""The collector's configuration: one YAML file, validated at start.

Every key is optional; without a file the collector runs the embedded default (SQLite under the data
directory, listening on 127.0.0.1:8470). String values may reference environment variables as
``${NAME}`` so that secrets need not be written into the file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

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
        return msgspec.convert(document, CollectorConfig, dec_hook=_decode_path)
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
        return msgspec.convert(document, CollectorConfig, dec_hook=_decode_path)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {_readable_path(str(exc))}") from None
