"""The agent's configuration: one YAML file, validated at start.

A wrong key stops the agent with its name and what was expected (``config error at health_interval:
expected int, got str``), never with a traceback: the person reading it is installing a PC, not
debugging Python.
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
import stat
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
import yaml
from msgspec import Meta, Struct

from agent.os_defaults import CURRENT
from agent.state import write_atomic

SECRET_ENV = "DOZOR_ENROLLMENT_SECRET"
DEFAULT_CONFIG_PATH = CURRENT.config_path


class ConfigError(Exception):
    """A configuration problem, worded for the person who wrote the file."""


class AgentConfig(Struct, forbid_unknown_fields=True, kw_only=True):
    collector_url: str
    """``https://HOST[:PORT][/PREFIX]`` of the collector."""
    enrollment_secret: Annotated[str, Meta(min_length=1, max_length=256)] | None = None
    """Exchanged once for the agent's own token; the environment variable wins over the file."""
    ca_file: Path | None = None
    """PEM bundle of the CA(s) that signed the collector's certificate (default: the system's)."""
    allow_insecure_http: bool = False
    """Plain ``http://`` to a non-loopback host would send the token in clear text: refused unless true."""
    state_dir: Path = CURRENT.state_dir
    health_interval: Annotated[int, Meta(ge=1, le=86_400)] = 60
    inventory_interval: Annotated[int, Meta(ge=1, le=7 * 86_400)] = 3600
    updates_interval: Annotated[int, Meta(ge=60, le=30 * 86_400)] = 12 * 3600
    """Seconds between update searches (apt-get -s, Windows Update): the pending-updates probe is
    expensive, so inventories in between reuse its last result, which carries its age."""
    spool_max_bytes: Annotated[int, Meta(ge=64 * 1024)] = 64 * 1024 * 1024
    spool_max_age: Annotated[int, Meta(ge=60)] = 7 * 86_400
    """Seconds an undelivered report is kept."""
    request_timeout: Annotated[float, Meta(gt=0, le=600)] = 30.0
    log_level: Annotated[str, Meta(pattern=r"^(?i:debug|info|warning|error)$")] = "info"


def _decode_path(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError


def _readable(msgspec_message: str) -> str:
    """msgspec says ``Expected `int`, got `str` - at `$.health_interval```; people want the key."""
    message, _, where = msgspec_message.partition(" - at `$")
    key = where.rstrip("`").lstrip(".")
    unknown = re.match(r"Object contains unknown field `([^`]+)`", message)
    missing = re.match(r"Object missing required field `([^`]+)`", message)
    if unknown:
        key, message = unknown.group(1), "unknown key"
    elif missing:
        key, message = missing.group(1), "required key is missing"
    message = message.replace("`", "")
    message = message[0].lower() + message[1:]
    return f"config error at {key}: {message}" if key else f"config error: {message}"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(config: AgentConfig) -> None:
    def fail(why: str) -> ConfigError:
        return ConfigError(f"config error at collector_url: {why}")

    url = urlsplit(config.collector_url)
    try:
        url.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise fail(f"bad port ({exc})") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise fail("expected https://HOST[:PORT][/PATH]")
    if url.query or url.fragment or url.username or url.password:
        raise fail("must not carry a query, fragment or user name")
    if url.scheme == "http" and not config.allow_insecure_http and not _is_loopback(url.hostname):
        raise fail(
            "plain http to a non-loopback host would send the token unencrypted; "
            "use https or set allow_insecure_http: true"
        )


def parse_config(text: str, base_dir: Path) -> AgentConfig:
    """Relative paths in the file are taken relative to ``base_dir`` (the file's folder)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # PyYAML's own message spans lines; keep the line and the problem
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or exc
        raise ConfigError(f"config error: not valid YAML{where}: {problem}") from None
    if not isinstance(document, dict):
        raise ConfigError("config error: expected a mapping of keys (at least collector_url)")
    try:
        config = msgspec.convert(document, AgentConfig, dec_hook=_decode_path)
    except msgspec.ValidationError as exc:
        raise ConfigError(_readable(str(exc))) from None
    _check_url(config)
    secret = os.environ.get(SECRET_ENV)
    ca_file = base_dir / config.ca_file if config.ca_file is not None else None
    config = msgspec.structs.replace(
        config,
        enrollment_secret=secret or config.enrollment_secret,
        ca_file=ca_file,
        state_dir=base_dir / config.state_dir,
    )
    if ca_file is not None:
        try:
            ssl.create_default_context(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"config error at ca_file: cannot load {ca_file}: {reason}") from None
    return config


def load_config(path: Path) -> AgentConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise ConfigError(f"config error: cannot read {path}: {reason}") from None
    return parse_config(text, path.resolve().parent)


SECRET_KEY = "enrollment_secret"
REMOVED_SECRET_NOTE = "# enrollment_secret: removed by dozor-agent after enrolling (its token replaces it)"


def without_secret(text: str) -> str | None:
    """``text`` with its top-level ``enrollment_secret`` taken out, or None when it holds no secret.

    The key's lines (with a comment on them) become :data:`REMOVED_SECRET_NOTE`; every other line
    stays as written, comments included. Where that edit would not leave the same document without
    the key (a flow mapping, an anchor used elsewhere…), the document is written anew without it,
    comments lost: the secret goes either way.
    """
    document = yaml.safe_load(text)
    if not isinstance(document, dict) or document.get(SECRET_KEY) is None:
        return None
    kept = {key: value for key, value in document.items() if key != SECRET_KEY}
    edited = _cut_key_lines(text)
    if edited is not None:
        try:
            if yaml.safe_load(edited) == kept:
                return edited
        except yaml.YAMLError:
            pass
    return yaml.safe_dump(kept, sort_keys=False, allow_unicode=True)


def _cut_key_lines(text: str) -> str | None:
    """Replace the lines of each top-level ``enrollment_secret: …`` (a block mapping's entry: key at
    the start of its line, value up to the end of its last line) by the note; None if it is not."""
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return None
    lines = text.splitlines(keepends=True)
    spans: list[tuple[int, int]] = []
    for key, value in root.value:
        if not (isinstance(key, yaml.ScalarNode) and key.value == SECRET_KEY):
            continue
        if key.start_mark.column != 0 or root.flow_style:
            return None
        last = value.end_mark.line
        if value.end_mark.column == 0 and last > key.start_mark.line:  # a block scalar ends on the next line
            last -= 1
        spans.append((key.start_mark.line, last))
    for first, last in reversed(spans):
        ending = lines[last][len(lines[last].rstrip("\r\n")) :] or "\n"
        lines[first : last + 1] = [REMOVED_SECRET_NOTE + ending]
    return "".join(lines)


def forget_enrollment_secret(path: Path) -> bool:
    """Rewrite the config file at ``path`` without its enrollment secret (atomically, same mode);
    True if there was one. Raises OSError when the file cannot be read or replaced."""
    path = path.resolve()  # replace a symlink's target, not the link
    text = path.read_bytes().decode("utf-8")  # bytes: keep the file's line endings as they are
    rewritten = without_secret(text)
    if rewritten is None:
        return False
    write_atomic(path, rewritten.encode("utf-8"), mode=stat.S_IMODE(path.stat().st_mode))
    return True
