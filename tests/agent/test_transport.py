"""Transport against real peers on 127.0.0.1: a closed port, and HTTP(S) servers started here that
answer from a script (they stand in for the network, not for the collector's logic)."""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agent.schema.messages import EnrollRequest
from agent.transport import ENROLL_PATH, REPORTS_PATH, Backoff, EnrollError, Transport

ACCEPTED = {"status": "accepted", "need_inventory": False}


@dataclass
class Answer:
    status: int
    body: dict[str, Any] | None = None
    hang_up: bool = False
    """Close the connection after answering without saying so (a server's keep-alive timeout)."""


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int
    """Which TCP connection (client port) it came on."""


@dataclass
class Peer:
    """A real HTTP/1.1 server on 127.0.0.1 that records requests and answers from a per-path script."""

    tls: ssl.SSLContext | None = None
    respond: Callable[[Received], Answer | None] = lambda received: None
    """Consulted first: an answer for this request, or None for the script."""
    received: list[Received] = field(default_factory=list)
    script: dict[str, deque[Answer]] = field(default_factory=lambda: defaultdict(deque))
    defaults: dict[str, Answer] = field(
        default_factory=lambda: {
            REPORTS_PATH: Answer(200, ACCEPTED),
            ENROLL_PATH: Answer(201, {"device_id": 1, "token": "token-of-device-1"}),
        }
    )

    def __post_init__(self) -> None:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received = Received(self.path, dict(self.headers), body, self.client_address[1])
                peer.received.append(received)
                queued = peer.script[self.path]
                answer = peer.respond(received)
                if answer is None:
                    answer = queued.popleft() if queued else peer.defaults.get(self.path, Answer(404))
                payload = json.dumps(answer.body or {"error": "nope", "detail": "test"}).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.close_connection = answer.hang_up

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, *answers: Answer) -> None:
        self.script[path].extend(answers)

    @staticmethod
    def decode(received: Received) -> dict[str, Any] | None:
        """The report a request carried, None for other requests."""
        return json.loads(gzip.decompress(received.body)) if received.path.endswith(REPORTS_PATH) else None

    def reports(self) -> list[dict[str, Any]]:
        return [report for item in self.received if (report := self.decode(item)) is not None]

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peer() -> Iterator[Peer]:
    with Peer() as server:
        yield server


@pytest.fixture
def tls_peer(certificate: tuple[Path, Path]) -> Iterator[Peer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with Peer(tls=context) as server:
        yield server


@pytest.fixture
def connect() -> Iterator[Callable[..., Transport]]:
    """Transports with token "t", closed after the test."""
    made: list[Transport] = []

    def make(url: str, ca_file: Path | None = None) -> Transport:
        transport = Transport(url, ca_file=ca_file, timeout=5)
        transport.token = "t"
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gz(document: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(document).encode())


def test_connection_refused_is_retried_later(connect: Callable[..., Transport]) -> None:
    transport = connect(f"http://127.0.0.1:{closed_port()}")
    outcome = transport.send(gz({"seq": 1}))
    assert (outcome.kind, outcome.detail, outcome.status) == ("retry", "connection refused", None)
    with pytest.raises(EnrollError, match="connection refused") as caught:
        transport.enroll("3d1219c7c4c5404aaa1f6d2a48adfda4", "pc", "secret")
    assert caught.value.retry


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    top = Backoff(first=1, cap=300, rng=lambda: 1.0)
    assert [top.next_delay() for _ in range(11)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    top.reset()
    assert top.next_delay() == 1
    bottom = Backoff(first=1, cap=300, rng=lambda: 0.0)
    assert bottom.next_delay() == 0
    real = Backoff(first=1, cap=300)
    delays = [real.next_delay() for _ in range(200)]
    assert all(0 <= delay <= 300 for delay in delays)
    assert len(set(delays)) > 150


def test_report_is_posted_gzip_with_the_bearer_token(peer: Peer, connect: Callable[..., Transport]) -> None:
    transport = connect(peer.url)
    transport.token = "token-1"
    outcome = transport.send(gz({"seq": 1}))
    assert (outcome.kind, outcome.status, outcome.need_inventory) == ("delivered", 200, False)
    (request,) = peer.received
    assert request.path == REPORTS_PATH
    assert request.headers["Authorization"] == "Bearer token-1"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Content-Encoding"] == "gzip"
    assert peer.reports() == [{"seq": 1}]


def test_collector_under_a_path_prefix(peer: Peer, connect: Callable[..., Transport]) -> None:
    peer.answer("/dozor" + REPORTS_PATH, Answer(200, ACCEPTED))
    transport = connect(peer.url + "/dozor/")
    assert transport.send(gz({})).kind == "delivered"
    assert peer.received[0].path == "/dozor" + REPORTS_PATH


@pytest.mark.parametrize(
    ("answer", "kind", "need_inventory"),
    [
        (Answer(200, {"status": "accepted", "need_inventory": True}), "delivered", True),
        (Answer(200, {"status": "duplicate", "need_inventory": False}), "delivered", False),
        (Answer(401, {"error": "revoked_token", "detail": "revoked"}), "unauthorized", False),
        (Answer(422, {"error": "invalid_report", "detail": "seq: expected int"}), "rejected", False),
        (Answer(413, {"error": "body_too_large", "detail": "too big"}), "rejected", False),
        (Answer(408), "retry", False),
        (Answer(429), "retry", False),
        (Answer(500, {"error": "store_error", "detail": "x"}), "retry", False),
        (Answer(503, {"error": "busy", "detail": "retry later"}), "retry", False),
        (Answer(302), "retry", False),
    ],
)
def test_each_answer_maps_to_what_the_agent_does(
    peer: Peer, answer: Answer, kind: str, need_inventory: bool, connect: Callable[..., Transport]
) -> None:
    peer.answer(REPORTS_PATH, answer)
    transport = connect(peer.url)
    outcome = transport.send(gz({"seq": 1}))
    assert (outcome.kind, outcome.status, outcome.need_inventory) == (kind, answer.status, need_inventory)
    if answer.body and "error" in answer.body:
        assert f"HTTP {answer.status} {answer.body['error']}: {answer.body['detail']}" == outcome.detail


def test_connection_is_kept_for_a_backlog_and_renewed_when_the_server_dropped_it(
    peer: Peer, connect: Callable[..., Transport]
) -> None:
    transport = connect(peer.url)
    peer.answer(REPORTS_PATH, Answer(200, ACCEPTED), Answer(200, ACCEPTED, hang_up=True))
    for seq in (1, 2, 3):
        assert transport.send(gz({"seq": seq})).kind == "delivered"
    connections = [item.connection for item in peer.received]
    assert connections[0] == connections[1] != connections[2]
    assert peer.reports() == [{"seq": 1}, {"seq": 2}, {"seq": 3}]


def test_enrollment_sends_machine_id_hostname_secret(peer: Peer, connect: Callable[..., Transport]) -> None:
    answer = connect(peer.url).enroll("3d1219c7c4c5404aaa1f6d2a48adfda4", "pc-17", "the-secret")
    assert (answer.device_id, answer.token) == (1, "token-of-device-1")
    sent = msgspec.json.decode(peer.received[0].body, type=EnrollRequest)
    assert sent == EnrollRequest(
        machine_id="3d1219c7c4c5404aaa1f6d2a48adfda4", hostname="pc-17", secret="the-secret"
    )
    assert peer.received[0].path == ENROLL_PATH


@pytest.mark.parametrize(
    ("answer", "message", "retry"),
    [
        (
            Answer(403, {"error": "bad_enrollment_secret", "detail": "wrong"}),
            "the enrollment secret is wrong",
            False,
        ),
        (
            Answer(400, {"error": "invalid_enrollment", "detail": "bad id"}),
            "HTTP 400 invalid_enrollment",
            False,
        ),
        (Answer(503, {"error": "store_unavailable", "detail": "db"}), "HTTP 503 store_unavailable", True),
        (Answer(201, {"unexpected": True}), "not an enrollment", False),
    ],
)
def test_enrollment_failures(
    peer: Peer, answer: Answer, message: str, retry: bool, connect: Callable[..., Transport]
) -> None:
    peer.answer(ENROLL_PATH, answer)
    with pytest.raises(EnrollError, match=message) as caught:
        connect(peer.url).enroll("3d1219c7c4c5404aaa1f6d2a48adfda4", "pc", "s")
    assert caught.value.retry is retry


def test_tls_is_verified_by_default(tls_peer: Peer, connect: Callable[..., Transport]) -> None:
    transport = connect(tls_peer.url)
    outcome = transport.send(gz({"seq": 1}))
    assert outcome.kind == "retry"
    assert outcome.detail.startswith("TLS certificate not trusted")
    assert "ca_file" in outcome.detail
    assert tls_peer.received == []


def test_tls_with_the_collectors_ca_file(
    tls_peer: Peer, certificate: tuple[Path, Path], connect: Callable[..., Transport]
) -> None:
    transport = connect(tls_peer.url, ca_file=certificate[0])
    assert transport.send(gz({"seq": 1})).kind == "delivered"
    assert transport.enroll("3d1219c7c4c5404aaa1f6d2a48adfda4", "pc", "s").device_id == 1
    assert tls_peer.reports() == [{"seq": 1}]
