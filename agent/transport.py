"""HTTPS to the collector: enrollment and report delivery, each answer mapped to what the agent does.

Plain ``http.client`` (no proxy discovery, no redirects followed): the agent talks to one configured
address and nothing else. TLS is verified against the system's CAs, or ``ca_file`` when given. One
connection is kept while a backlog drains, so a replay does not pay a handshake per report.

How each answer is treated (ARCHITECTURE.md, HTTP API):

==================================  =================  ===========================================
answer                              ``Outcome.kind``   the agent
==================================  =================  ===========================================
2xx (accepted or duplicate)         ``delivered``      deletes the report from the spool
401                                 ``unauthorized``   stops sending, keeps the spool
408, 429, 5xx, no answer, redirect  ``retry``          retries later, with backoff
other 4xx                           ``rejected``       moves the report to ``spool/rejected/``
==================================  =================  ===========================================
"""

from __future__ import annotations

import http.client
import random
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import msgspec

from agent import __version__
from agent.schema.messages import EnrollRequest, EnrollResponse, ErrorResponse, IngestResponse

REPORTS_PATH = "/api/v1/reports"
ENROLL_PATH = "/api/v1/enroll"
MAX_ANSWER_BYTES = 64 * 1024
_STALE_CONNECTION = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)
"""What a kept-alive connection the server has since closed fails with: reconnect once at once."""

Kind = Literal["delivered", "rejected", "unauthorized", "retry"]


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: Kind
    detail: str
    """What happened, for the log: ``HTTP 422 invalid_report: …``, ``connection refused``…"""
    status: int | None = None
    need_inventory: bool = False


class EnrollError(Exception):
    """Enrollment failed; ``retry`` says whether trying again later can help."""

    def __init__(self, message: str, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class Backoff:
    """Exponential backoff with full jitter: a fleet that lost its collector does not come back in
    lockstep. Delays are uniform in [0, min(cap, first * 2**failures)]."""

    def __init__(self, first: float = 1.0, cap: float = 300.0, rng: Callable[[], float] = random.random):
        self.first = first
        self.cap = cap
        self.failures = 0
        self._rng = rng

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.first * 2 ** min(self.failures, 32))
        self.failures += 1
        return ceiling * self._rng()

    def reset(self) -> None:
        self.failures = 0


def describe_error(error: Exception, timeout: float) -> str:
    """A network failure in words, with the fix where there is an obvious one."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({error.verify_message}); set ca_file to the collector's CA"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the collector's host name ({error.strerror})"
    return f"{type(error).__name__}: {error}"


def _error_detail(status: int, body: bytes) -> str:
    try:
        error = msgspec.json.decode(body, type=ErrorResponse)
    except msgspec.DecodeError:
        return f"HTTP {status}"
    return f"HTTP {status} {error.error}: {error.detail}"


def classify(status: int, body: bytes) -> Outcome:
    """The agent's reading of the collector's answer to ``POST /api/v1/reports``."""
    if 200 <= status < 300:
        try:
            answer = msgspec.json.decode(body, type=IngestResponse)
        except msgspec.DecodeError:
            return Outcome("delivered", f"HTTP {status} (answer not understood)", status)
        return Outcome("delivered", f"HTTP {status} {answer.status}", status, answer.need_inventory)
    detail = _error_detail(status, body)
    if status == 401:
        return Outcome("unauthorized", detail, status)
    if 400 <= status < 500 and status not in (408, 429):
        return Outcome("rejected", detail, status)
    if 300 <= status < 400:
        detail += " (a redirect: check collector_url)"
    return Outcome("retry", detail, status)


class Transport:
    """The collector at ``url``. ``token`` is the agent's bearer token (None until enrolled)."""

    def __init__(self, url: str, *, ca_file: Path | None = None, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self.url = url
        self.timeout = timeout
        self.token: str | None = None
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._tls = (
            ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)
            if self._https
            else None
        )
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        """Drop the kept connection (when idle, so no socket stays open between reports)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self.timeout, context=self._tls
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def _post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """(status, at most MAX_ANSWER_BYTES of the answer); raises OSError / HTTPException."""
        headers = {"User-Agent": f"dozor-agent/{__version__}", **headers}
        while True:
            reused = self._connection is not None
            connection = self._connection or self._connect()
            self._connection = connection
            try:
                connection.request("POST", self._prefix + path, body=body, headers=headers)
                response = connection.getresponse()
                answer = response.read(MAX_ANSWER_BYTES)
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if reused and isinstance(exc, _STALE_CONNECTION):
                    continue
                raise
            if not response.isclosed() or response.will_close:  # unread rest, or server said close
                self.close()
            return response.status, answer

    def send(self, report_gz: bytes) -> Outcome:
        """Deliver one gzip'ed report once; retrying is the caller's business (see ``Outcome``)."""
        if self.token is None:
            return Outcome("unauthorized", "not enrolled")
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        try:
            status, body = self._post(REPORTS_PATH, report_gz, headers)
        except (OSError, http.client.HTTPException) as exc:
            return Outcome("retry", describe_error(exc, self.timeout))
        return classify(status, body)

    def enroll(
        self, machine_id: str, hostname: str, secret: str, hardware_uuid: str | None = None
    ) -> EnrollResponse:
        """Exchange the enrollment secret for this agent's device id and token."""
        request = EnrollRequest(
            machine_id=machine_id, hostname=hostname, secret=secret, hardware_uuid=hardware_uuid
        )
        try:
            status, body = self._post(
                ENROLL_PATH, msgspec.json.encode(request), {"Content-Type": "application/json"}
            )
        except (OSError, http.client.HTTPException) as exc:
            raise EnrollError(describe_error(exc, self.timeout), retry=True) from None
        finally:
            self.close()
        if status in (200, 201):
            try:
                return msgspec.json.decode(body, type=EnrollResponse)
            except msgspec.DecodeError as exc:
                raise EnrollError(
                    f"the collector's answer is not an enrollment: {exc}", retry=False
                ) from None
        if status == 403:
            raise EnrollError("the enrollment secret is wrong", retry=False)
        outcome = classify(status, body)
        raise EnrollError(outcome.detail, retry=outcome.kind == "retry")
