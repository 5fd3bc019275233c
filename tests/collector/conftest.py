"""The collector's store runs on SQLite and on PostgreSQL, so every test that takes ``db_url`` (or
``engine`` / ``sessions``) runs once on each, starting from an empty database.

PostgreSQL: one database, uniquely named, is created per test session through the maintenance
database at ``DOZOR_TEST_POSTGRES`` (default: postgres on 127.0.0.1:5432) and dropped at the end;
each test gets it with an empty ``public`` schema. When the server cannot be reached the PostgreSQL
half is skipped with the reason, except under ``CI=...`` where that is a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import URL, Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from collector.store.db import make_engine, make_sessionmaker, migrate

POSTGRES_ADMIN_URL = os.environ.get(
    "DOZOR_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _admin_engine(url: URL) -> Engine:
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[URL]:
    admin_url = make_url(POSTGRES_ADMIN_URL)
    admin = _admin_engine(admin_url)
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = f"PostgreSQL unreachable at {admin_url.render_as_string()}: {exc.orig}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"dozor_test_{os.getpid()}_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty database: a new SQLite file, or the session's PostgreSQL database wiped."""
    if request.param == "sqlite":
        return f"sqlite+pysqlite:///{tmp_path_factory.mktemp('store') / 'dozor.sqlite3'}"
    url: URL = request.getfixturevalue("postgres_database")
    wipe = _admin_engine(url)
    with wipe.connect() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    wipe.dispose()
    return url.render_as_string(hide_password=False)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated store."""
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)
