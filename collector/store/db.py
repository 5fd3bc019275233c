"""Engine, sessions and schema migrations: the only place that knows which database is behind the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")
MIGRATION_LOCK = 0x446F7A6F72  # "Dozor": the PostgreSQL advisory lock that serialises replicas' migrations
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",  # readers never block the writer
    "PRAGMA synchronous=NORMAL",  # durable across a process crash; WAL makes FULL unnecessary
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",  # wait for another writer (enrollment vs ingest) instead of failing
)


def _json_dumps(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def sqlite_url(data_dir: Path) -> str:
    """The embedded default: one SQLite file in the data dir."""
    return f"sqlite+pysqlite:///{(data_dir / 'dozor.sqlite3').resolve()}"


def make_engine(url: str) -> Engine:
    """An engine for SQLite (WAL, real transactions) or PostgreSQL (``postgresql+psycopg://``)."""
    engine = create_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=msgspec.json.decode,
        pool_pre_ping=True,  # a PostgreSQL restart must not fail the first request after it
    )
    if engine.dialect.name == "sqlite":
        _use_sqlite_transactions(engine)
    return engine


def _use_sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, emit BEGIN: the module's legacy mode starts no
    transaction before SAVEPOINT or SELECT, which would commit each ingest savepoint on its own and
    break group commit (see the SQLAlchemy SQLite dialect notes on transactions).

    IMMEDIATE takes the write lock at BEGIN: a deferred transaction that reads, then writes after
    another writer (the ingest writer, an SNMP poll, an enrollment) committed fails at once with
    "database is locked" (its snapshot is stale; busy_timeout cannot help), whereas an immediate
    one waits its turn. Transactions here are short, so serialising them costs little."""

    @event.listens_for(engine, "connect")
    def configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    # Store functions hand back structs and plain values, not live ORM objects: expiring everything
    # at each commit would only cost reloads.
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    """The Alembic configuration shipped inside the package (works from any working directory)."""
    return Config(str(ALEMBIC_INI))


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe when several replicas start at once."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
