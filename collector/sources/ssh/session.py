"""One device's CLI session over SSH with netmiko: the only I/O of the SSH poller.

``fetch()`` is synchronous (netmiko is); the caller runs it in a worker thread. It is bounded by an
absolute ``deadline`` (``time.monotonic()``): the TCP connect, the SSH banner and authentication
get what is left of it, every read of the session checks it, and a watchdog closes the socket at
the deadline so nothing can block past it. Every failure is a ``CliError`` with a named kind.

Host keys are trusted on first use: with ``known_host_key=None`` the server's key is returned to be
recorded; with a key, any other key stops the session before authentication (so no credential is
sent to an impostor) with ``host_key_changed``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import re
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import paramiko
from netmiko import BaseConnection
from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException, ReadTimeout
from netmiko.ssh_dispatcher import ssh_dispatcher

from collector.sources.ssh.config_text import check_config
from collector.sources.ssh.errors import CliError, HostKeyChanged
from collector.sources.ssh.platforms import Platform, platform

log = logging.getLogger(__name__)

IDLE_WAIT = 0.05
"""Longest a read of a silent session waits for data before netmiko's own loop goes on."""


@dataclass(frozen=True)
class Target:
    """Where a device's SSH server listens."""

    host: str
    port: int = 22


@dataclass(frozen=True)
class Credentials:
    """Login for one device or credential set; secrets are kept out of ``repr`` and messages."""

    username: str
    password: str | None = field(default=None, repr=False)
    key_file: str | None = None
    enable_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CliResult:
    """What one session brought back, raw: the config, each fact command's output, the host key.

    ``fact_errors`` holds commands that failed on their own (rejected, pager prompt) while the
    session went on; the config is always present (a session that cannot get it raises).
    """

    platform: str
    host_key: str
    """``<type> <base64>`` as in known_hosts, to record on first use and compare later."""
    config: str
    outputs: dict[str, str]
    fact_errors: dict[str, CliError]
    seconds: float

    @property
    def host_key_fingerprint(self) -> str:
        return host_key_fingerprint(self.host_key)


def host_key_fingerprint(host_key: str) -> str:
    """``SHA256:…`` as ``ssh-keygen -l`` prints it, for people comparing keys."""
    blob = base64.b64decode(host_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


class _HostKeyMismatch(Exception):
    def __init__(self, seen: str) -> None:
        super().__init__("host key changed")
        self.seen = seen


class _TrustOnFirstUse(paramiko.MissingHostKeyPolicy):
    """Accepts the key recorded for the device (or any key when none is recorded yet)."""

    def __init__(self, known_host_key: str | None) -> None:
        self.known = known_host_key
        self.seen: str | None = None

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        self.seen = f"{key.get_name()} {key.get_base64()}"
        if self.known is not None and self.seen.split()[:2] != self.known.split()[:2]:
            raise _HostKeyMismatch(self.seen)


class _DeadlineMixin:
    """Makes every read of a netmiko session fail once the device's deadline has passed, and
    turns a remote close mid-conversation into a named error instead of a wait for a prompt."""

    deadline: float
    remote_conn: Any
    tail = ""
    """The end of what the device sent: a device that stopped at a line without a newline is
    waiting at a prompt the driver does not know; one whose output ended a line went silent."""

    def read_channel(self) -> str:
        channel = self.remote_conn
        if channel is not None and not (channel.recv_ready() or channel.closed or channel.eof_received):
            # netmiko polls every 10-25 ms; wait here until data comes (or briefly, if none does).
            # Under load its empty polls misread prompts: 1-4 of 200 concurrent sessions failed
            # with unexpected_prompt without this wait, none with it (bench/ssh_backup.py).
            select.select([channel], [], [], max(min(IDLE_WAIT, self.deadline - time.monotonic()), 0))
        data: str = super().read_channel()  # type: ignore[misc]
        if data:
            self.tail = (self.tail + data)[-200:]
            return data
        if time.monotonic() >= self.deadline:
            raise CliError("timeout", "the device deadline passed waiting for output")
        if channel is not None and (channel.closed or channel.eof_received):
            raise CliError("truncated_output", "the device closed the session mid-output")
        return data

    def cleanup(self, command: str = "") -> None:
        """No logout dialogue: closing the SSH channel ends the CLI session on every platform."""


@cache
def _bounded_class(device_type: str) -> type[BaseConnection]:
    """netmiko's driver class for ``device_type`` with the deadline checks mixed in."""
    driver = ssh_dispatcher(device_type)
    return type(f"Bounded{driver.__name__}", (_DeadlineMixin, driver), {})


def fetch(
    target: Target,
    credentials: Credentials,
    platform_name: str,
    known_host_key: str | None,
    deadline: float,
) -> CliResult:
    """Log in, turn paging off, enter enable if needed, read the running config and the fact
    commands; raise ``CliError`` with a named kind for any failure (nothing partial is returned)."""
    spec = platform(platform_name)
    started = time.monotonic()
    sock = _connect(target, deadline)
    watchdog = threading.Timer(max(deadline - time.monotonic(), 0), _close_quietly, args=(sock,))
    watchdog.daemon = True
    watchdog.start()
    policy = _TrustOnFirstUse(known_host_key)
    connection: BaseConnection | None = None
    try:
        connection = _connection(spec, target, credentials, sock, policy, deadline)
        try:
            connection._open()  # netmiko's own connect step, run once our host-key policy is in place
        except _HostKeyMismatch:
            raise
        except Exception as exc:
            error = exc if isinstance(exc, CliError) else _classify(exc, target, deadline)
            if error.kind == "timeout" and _waits_at_a_prompt(connection.tail):
                raise CliError(
                    "unexpected_prompt", "the device talks but shows no prompt of its platform"
                ) from None
            raise error from None
        if spec.enable:
            _enable(connection, credentials)
        config = _run(connection, spec, spec.config_command, deadline)
        check_config(platform_name, config)
        outputs: dict[str, str] = {}
        fact_errors: dict[str, CliError] = {}
        for command in spec.polled_commands:
            try:
                outputs[command.command] = _run(connection, spec, command.command, deadline)
            except CliError as exc:
                if exc.kind in ("timeout", "truncated_output"):
                    raise
                fact_errors[command.command] = exc
        assert policy.seen is not None
        return CliResult(
            platform=platform_name,
            host_key=policy.seen,
            config=config,
            outputs=outputs,
            fact_errors=fact_errors,
            seconds=time.monotonic() - started,
        )
    except CliError:
        raise
    except _HostKeyMismatch as exc:
        raise HostKeyChanged(
            f"{target.host}:{target.port} presented {host_key_fingerprint(exc.seen)}, "
            f"not the recorded {host_key_fingerprint(known_host_key or exc.seen)}",
            exc.seen,
        ) from None
    except Exception as exc:
        raise _classify(exc, target, deadline) from None
    finally:
        watchdog.cancel()
        if connection is not None:
            _disconnect(connection)
        _close_quietly(sock)


def _waits_at_a_prompt(tail: str) -> bool:
    return bool(tail.strip()) and not tail.endswith("\n")


def _connect(target: Target, deadline: float) -> socket.socket:
    """The TCP connection, bounded by the deadline; refused and unreachable are told apart."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise CliError("timeout", "the device deadline passed before connecting")
    try:
        return socket.create_connection((target.host, target.port), timeout=remaining)
    except ConnectionRefusedError:
        raise CliError("connection_refused", f"{target.host}:{target.port} refused the connection") from None
    except TimeoutError:
        raise CliError("timeout", f"connecting to {target.host}:{target.port} timed out") from None
    except OSError as exc:
        raise CliError("unreachable", f"{target.host}:{target.port}: {exc.strerror or exc}") from None


def _connection(
    spec: Platform,
    target: Target,
    credentials: Credentials,
    sock: socket.socket,
    policy: _TrustOnFirstUse,
    deadline: float,
) -> BaseConnection:
    """A netmiko session (not yet open) over our socket, with our host-key policy and timeouts
    taken from the deadline."""
    remaining = max(deadline - time.monotonic(), 0.1)
    connection = _bounded_class(spec.device_type)(
        host=target.host,
        port=target.port,
        username=credentials.username,
        password=credentials.password,
        secret=credentials.enable_secret or "",
        use_keys=credentials.key_file is not None,
        key_file=credentials.key_file,
        allow_agent=False,
        sock=sock,
        conn_timeout=remaining,
        banner_timeout=remaining,
        auth_timeout=remaining,
        blocking_timeout=remaining,
        read_timeout_override=remaining,
        auto_connect=False,
        fast_cli=True,
    )
    connection.deadline = deadline  # type: ignore[attr-defined]
    connection.key_policy = policy
    return connection


def _enable(connection: BaseConnection, credentials: Credentials) -> None:
    try:
        connection.enable()
    except (ValueError, ReadTimeout):
        if not connection.check_enable_mode():
            raise CliError("enable_failed", "the enable secret was not accepted") from None


def _run(connection: BaseConnection, spec: Platform, command: str, deadline: float) -> str:
    """One command's output; a pager prompt or an error reply in it is a named error."""
    prompt = re.escape(connection.base_prompt)
    output = connection.send_command(
        command,
        expect_string=rf"(?:{prompt}.{{0,3}}\s*$|{spec.pager})",
        read_timeout=max(deadline - time.monotonic(), 0.1),
        strip_prompt=True,
    )
    assert isinstance(output, str)
    first, _, rest = output.partition("\n")
    if first.rstrip().endswith(command):  # an echo netmiko left (drivers without command verify)
        output = rest
    if re.search(spec.pager, output):
        raise CliError("pager_left_on", f"{command!r} output stopped at a pager prompt: paging is still on")
    if any(re.search(p, output, re.MULTILINE) for p in spec.errors):
        raise CliError("command_rejected", f"the device rejected {command!r}")
    return output


def _classify(exc: Exception, target: Target, deadline: float) -> CliError:
    """netmiko/paramiko exceptions → a named error whose message carries no credential."""
    where = f"{target.host}:{target.port}"
    if time.monotonic() >= deadline:
        return CliError("timeout", f"{where}: the device deadline passed ({type(exc).__name__})")
    if isinstance(exc, NetmikoAuthenticationException | paramiko.AuthenticationException):
        return CliError("auth_failed", f"{where}: the login was rejected")
    if isinstance(exc, ReadTimeout | ValueError):
        return CliError("unexpected_prompt", f"{where}: no prompt the {type(exc).__name__} driver knows")
    if isinstance(exc, NetmikoTimeoutException | paramiko.SSHException | EOFError | OSError):
        return CliError("ssh_error", f"{where}: SSH session failed ({type(exc).__name__})")
    log.warning("unexpected %s from %s", type(exc).__name__, where)
    return CliError("ssh_error", f"{where}: {type(exc).__name__}")


def _disconnect(connection: BaseConnection) -> None:
    """Close the session (``cleanup`` is a no-op here, so no logout dialogue can hang)."""
    try:
        connection.disconnect()
    except Exception:
        log.debug("closing the SSH session failed", exc_info=True)


def _close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
