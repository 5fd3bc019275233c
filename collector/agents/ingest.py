"""From request bytes to committed facts: decode and check a report, authenticate its agent, and
commit it through a single writer task that groups concurrent reports into one transaction.

Group commit is what lets one SQLite file take a fleet's worth of reports per second: each request
waits for its batch's commit (so an answer of 200 means the report is durable), but the database
sees one transaction per batch instead of one per report.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from agent.schema.messages import EnrollRequest, EnrollResponse
from agent.schema.report import ACCEPTED_SCHEMA_VERSIONS, Report
from collector.agents.fleet import Fleet
from collector.config import IngestConfig
from collector.metrics.instruments import CollectorMetrics
from collector.store.agents import (
    NotPending,
    TokenOwner,
    approve_agent,
    enroll_agent,
    find_token,
    revoke_tokens,
)
from collector.store.reports import ApplyOutcome, apply_report

log = logging.getLogger(__name__)


class Rejected(Exception):
    """A request refused with a 4xx/5xx status; ``reason`` is the metrics label and API error code."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


class _Envelope(msgspec.Struct):
    schema_version: int


_envelope = msgspec.json.Decoder(_Envelope)
_report = msgspec.json.Decoder(Report)
_enroll = msgspec.json.Decoder(EnrollRequest)


def _gunzip(body: bytes, limit: int) -> bytes:
    """Inflate at most ``limit`` bytes: a gzip bomb is stopped after ``limit``, not after it explodes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise Rejected(400, "bad_gzip", f"body is not valid gzip: {exc}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise Rejected(
            413, "decompressed_too_large", f"report is larger than {limit} bytes once decompressed"
        )
    if not inflater.eof or inflater.unused_data:
        raise Rejected(400, "bad_gzip", "gzip stream is truncated or followed by extra bytes")
    return data


def decode_report(body: bytes, content_encoding: str | None, limits: IngestConfig) -> Report:
    """Bytes as received → a validated Report, or Rejected naming what is wrong."""
    if len(body) > limits.max_body_bytes:
        raise Rejected(413, "body_too_large", f"body is larger than {limits.max_body_bytes} bytes")
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        body = _gunzip(body, limits.max_decompressed_bytes)
    elif encoding != "identity":
        raise Rejected(
            415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported; use gzip"
        )
    elif len(body) > limits.max_decompressed_bytes:
        raise Rejected(
            413, "decompressed_too_large", f"report is larger than {limits.max_decompressed_bytes} bytes"
        )
    try:
        version = _envelope.decode(body).schema_version
    except msgspec.DecodeError as exc:
        reason = "invalid_report" if isinstance(exc, msgspec.ValidationError) else "malformed_json"
        raise Rejected(400, reason, str(exc)) from None
    if version not in ACCEPTED_SCHEMA_VERSIONS:
        newest = max(ACCEPTED_SCHEMA_VERSIONS)
        relation = "newer than" if version > newest else "older than"
        accepted = ", ".join(map(str, ACCEPTED_SCHEMA_VERSIONS))
        raise Rejected(
            400,
            "unsupported_schema_version",
            f"schema_version {version} is {relation} the versions this collector accepts ({accepted})",
        )
    try:
        return _report.decode(body)
    except msgspec.DecodeError as exc:
        raise Rejected(422, "invalid_report", str(exc)) from None


def _content(report: Report) -> str:
    if report.inventory is not None:
        return "inventory"
    if report.inventory_hash is not None:
        return "inventory_ref"
    return "health"


@dataclass
class _Pending:
    device_id: int
    report: Report
    received_at: datetime
    started: float
    done: asyncio.Future[ApplyOutcome] = field(repr=False)


class Ingest:
    """Authenticates agents and commits their reports; one instance per collector process."""

    name = "ingest"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        fleet: Fleet,
        metrics: CollectorMetrics,
        limits: IngestConfig,
        enrollment_secret: str,
        token_cache_seconds: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        require_approval: bool = False,
        live_after_seconds: float = 300.0,
    ) -> None:
        self._sessions = sessions
        self._fleet = fleet
        self._metrics = metrics
        self.limits = limits
        self._secret_sha256 = hashlib.sha256(enrollment_secret.encode()).digest()
        self._token_ttl = token_cache_seconds
        self._tokens: dict[str, tuple[TokenOwner, float]] = {}
        self._clock = clock
        self._require_approval = require_approval
        self._live_after = live_after_seconds
        """A PC that reported this recently is live: another PC with its machine id is a clone."""
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=limits.queue_max)
        self._writer: asyncio.Task[None] | None = None

    # ---- lifecycle

    async def start(self) -> None:
        self._writer = asyncio.create_task(self._write_forever(), name="dozor-ingest-writer")

    async def stop(self) -> None:
        """Commit what is queued, then stop the writer."""
        await self._queue.join()
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)

    # ---- requests

    def reject(self, error: Rejected) -> None:
        self._metrics.reports_rejected.labels(error.reason).inc()

    async def enroll(self, body: bytes) -> EnrollResponse:
        try:
            request = _enroll.decode(body)
        except msgspec.DecodeError as exc:
            raise Rejected(400, "invalid_enrollment", str(exc)) from None
        offered = hashlib.sha256(request.secret.encode()).digest()
        if not hmac.compare_digest(offered, self._secret_sha256):
            self._metrics.enrollments.labels("bad_secret").inc()
            raise Rejected(403, "bad_enrollment_secret", "the enrollment secret is wrong")

        def write() -> tuple[int, str]:
            with self._sessions.begin() as session:
                now = self._clock()
                return enroll_agent(
                    session,
                    request.machine_id,
                    request.hostname,
                    now,
                    self._require_approval,
                    request.hardware_uuid,
                    live_since=now - timedelta(seconds=self._live_after),
                )

        device_id, token = await asyncio.to_thread(write)
        self._metrics.enrollments.labels("enrolled").inc()
        log.info(
            "enrolled agent of %s (machine %s) as device %d%s",
            request.hostname,
            request.machine_id,
            device_id,
            "; a new PC waits for approval" if self._require_approval else "",
        )
        return EnrollResponse(device_id=device_id, token=token)

    async def authenticate(self, authorization: str | None) -> TokenOwner:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Rejected(401, "missing_token", "send the agent token as 'Authorization: Bearer <token>'")
        digest = hashlib.sha256(token.strip().encode()).hexdigest()
        cached = self._tokens.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            owner = cached[0]
        else:

            def lookup() -> TokenOwner | None:
                with self._sessions() as session:
                    return find_token(session, token.strip())

            found = await asyncio.to_thread(lookup)
            if found is None:
                raise Rejected(401, "unknown_token", "this agent token is not known; enroll the agent again")
            owner = found
            if len(self._tokens) > 100_000:
                self._tokens.clear()
            self._tokens[digest] = (owner, time.monotonic() + self._token_ttl)
        if owner.revoked:
            raise Rejected(401, "revoked_token", "this agent token was revoked by an administrator")
        return owner

    async def revoke(self, device_id: int) -> int:
        def write() -> int:
            with self._sessions.begin() as session:
                return revoke_tokens(session, device_id, self._clock())

        revoked = await asyncio.to_thread(write)
        self._tokens = {key: value for key, value in self._tokens.items() if value[0].device_id != device_id}
        return revoked

    async def approve(self, device_id: int, by: str) -> bool:
        """Approve a pending PC (audited in the store); False if there is no such PC."""

        def write() -> bool:
            with self._sessions.begin() as session:
                return approve_agent(session, device_id, by, self._clock())

        try:
            approved = await asyncio.to_thread(write)
        except NotPending as exc:
            raise Rejected(409, "not_pending", str(exc)) from None
        if approved:
            self._fleet.approved(device_id)
            log.info("host %d approved by %s", device_id, by)
        return approved

    async def submit(self, owner: TokenOwner, report: Report) -> ApplyOutcome:
        """Queue a decoded report of an authenticated agent and wait until it is committed."""
        if report.machine_id != owner.machine_id:
            raise Rejected(
                403, "machine_mismatch", "the report's machine_id does not belong to this agent token"
            )
        pending = _Pending(
            device_id=owner.device_id,
            report=report,
            received_at=self._clock(),
            started=time.perf_counter(),
            done=asyncio.get_running_loop().create_future(),
        )
        try:
            self._queue.put_nowait(pending)
        except asyncio.QueueFull:
            raise Rejected(503, "busy", "the collector is saturated; retry later") from None
        self._metrics.queue_depth.set(self._queue.qsize())
        return await pending.done

    # ---- the writer

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.limits.batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self._metrics.queue_depth.set(self._queue.qsize())
            try:
                outcomes = await asyncio.to_thread(self._write_batch, batch)
            except SQLAlchemyError as exc:
                self._metrics.db_errors.inc()
                log.error("database write of %d reports failed: %s", len(batch), exc.__class__.__name__)
                outcomes = [
                    Rejected(503, "store_unavailable", "the inventory database is unavailable")
                ] * len(batch)
            self._settle(batch, outcomes)
            for _ in batch:
                self._queue.task_done()

    def _write_batch(self, batch: list[_Pending]) -> list[ApplyOutcome | Rejected]:
        started = time.perf_counter()
        try:
            outcomes = self._apply_batch(batch, isolated=False)
        except Exception:
            # One report broke the transaction: replay the batch with a savepoint per report, so
            # that only that report fails. Savepoints cost a round trip each, so only on this path.
            outcomes = self._apply_batch(batch, isolated=True)
        self._metrics.db_write_duration.observe(time.perf_counter() - started)
        self._metrics.db_batch_size.observe(len(batch))
        return outcomes

    def _apply_batch(self, batch: list[_Pending], isolated: bool) -> list[ApplyOutcome | Rejected]:
        outcomes: list[ApplyOutcome | Rejected] = []
        with self._sessions.begin() as session:
            for item in batch:
                if not isolated:
                    outcomes.append(apply_report(session, item.device_id, item.report, item.received_at))
                    continue
                try:
                    with session.begin_nested():
                        outcomes.append(apply_report(session, item.device_id, item.report, item.received_at))
                except Exception as exc:  # a bug or a constraint: this report only
                    log.error("report %d of device %d not stored: %s", item.report.seq, item.device_id, exc)
                    outcomes.append(Rejected(500, "store_error", "the report could not be stored"))
        return outcomes

    def _settle(self, batch: list[_Pending], outcomes: list[ApplyOutcome | Rejected]) -> None:
        """After commit: update the fleet view and metrics, then wake the waiting requests."""
        for item, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Rejected):
                if not item.done.done():
                    item.done.set_exception(outcome)
                continue
            if outcome.status == "accepted":
                self._fleet.observe(item.device_id, item.report, item.received_at, outcome.flags)
                self._metrics.reports_accepted.labels(_content(item.report)).inc()
                if outcome.gap:
                    self._metrics.sequence_gaps.inc(outcome.gap)
                for change in outcome.changes:
                    self._metrics.change_events.labels(change.category, change.kind).inc()
            else:
                self._metrics.reports_duplicate.inc()
            self._metrics.ingest_duration.observe(time.perf_counter() - item.started)
            if not item.done.done():
                item.done.set_result(outcome)
