"""The store's schema and agent identities, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from collector.store.agents import enroll_agent, find_token, revoke_tokens, token_digest
from collector.store.db import alembic_config, make_engine, migrate
from collector.store.models import AgentToken, Base, Device
from tests import factories

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_migration_creates_the_schema_of_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    migrate(engine)  # a restart (or a second replica) finds nothing to do
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        assert tables == {*Base.metadata.tables, "alembic_version"}
        # What `alembic check` does: the models and the migrations describe the same schema.
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()


def test_migration_downgrades_to_nothing_and_back(engine: Engine) -> None:
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
        assert set(inspect(connection).get_table_names()) == {"alembic_version"}
    migrate(engine)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


def test_connection_settings(engine: Engine) -> None:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        else:
            assert engine.dialect.driver == "psycopg"


def test_savepoints_belong_to_the_batch_transaction(sessions: sessionmaker[Session]) -> None:
    """Ingest commits a batch as one transaction with a savepoint per report: rolling the batch back
    must undo released savepoints too (sqlite3's legacy mode would have committed each one)."""
    with sessions() as session:
        with session.begin_nested():
            enroll_agent(session, factories.machine_id(1), "PC1", NOW)
        with session.begin_nested():
            enroll_agent(session, factories.machine_id(2), "PC2", NOW)
        session.rollback()
    with sessions() as session:
        assert session.scalars(select(Device.id)).all() == []


def test_times_come_back_in_utc(sessions: sessionmaker[Session]) -> None:
    kyiv = datetime(2026, 11, 29, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    with sessions.begin() as session:
        device_id, _ = enroll_agent(session, factories.machine_id(1), "PC1", kyiv)
    with sessions() as session:
        seen = session.scalar(select(Device.first_seen_at).where(Device.id == device_id))
        assert seen == NOW and seen.tzinfo == UTC
        assert session.scalar(select(Device.id).where(Device.first_seen_at > NOW - timedelta(seconds=1)))


def test_enroll_find_and_revoke(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        device_id, token = enroll_agent(session, factories.machine_id(1), "PC1", NOW)
        other_id, other_token = enroll_agent(session, factories.machine_id(2), "PC2", NOW)
    assert device_id != other_id and token != other_token and len(token) >= 43

    with sessions() as session:
        owner = find_token(session, token)
        assert owner is not None
        assert (owner.device_id, owner.machine_id, owner.revoked) == (
            device_id,
            factories.machine_id(1),
            False,
        )
        assert find_token(session, "not-a-token") is None
        stored = session.scalars(select(AgentToken.token_sha256)).all()
        assert token not in stored and token_digest(token) in stored
        device = session.get_one(Device, device_id)
        assert (device.kind, device.hostname, device.lifecycle, device.last_seq) == (
            "pc",
            "PC1",
            "accepted",
            0,
        )

    with sessions.begin() as session:
        assert revoke_tokens(session, device_id, NOW + timedelta(hours=1)) == 1
    with sessions.begin() as session:
        assert revoke_tokens(session, device_id, NOW + timedelta(hours=2)) == 0
        owner = find_token(session, token)
        assert owner is not None and owner.revoked
        other = find_token(session, other_token)
        assert other is not None and not other.revoked


def test_enrolling_again_keeps_the_device_and_restarts_sequence_checking(
    sessions: sessionmaker[Session],
) -> None:
    """A reinstalled agent numbers its reports from 1 again; they must not be taken for replays."""
    with sessions.begin() as session:
        device_id, first_token = enroll_agent(session, factories.machine_id(1), "PC1", NOW)
        session.get_one(Device, device_id).last_seq = 500
    with sessions.begin() as session:
        again_id, second_token = enroll_agent(session, factories.machine_id(1), "PC1-new", NOW)
    assert again_id == device_id and second_token != first_token
    with sessions() as session:
        device = session.get_one(Device, device_id)
        assert (device.last_seq, device.hostname, device.first_seen_at) == (0, "PC1", NOW)
        assert session.scalars(select(Device.id)).all() == [device_id]
        assert find_token(session, first_token) is not None  # revoking is the admin's decision
        assert find_token(session, second_token) is not None
