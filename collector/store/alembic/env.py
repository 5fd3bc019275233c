"""Alembic environment of the collector store.

``collector.store.db.migrate`` hands in an open connection (inside its transaction and migration
lock); the ``alembic`` command line instead connects to ``DOZOR_DATABASE_URL``.
"""

from __future__ import annotations

import os
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext

from collector.store.db import make_engine
from collector.store.models import Base, UtcDateTime


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render our UTC timestamp type as the plain column type it is in the database."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_item=render_item,
        render_as_batch=True,  # SQLite can only ALTER a table by copying it
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    url = os.environ.get("DOZOR_DATABASE_URL")
    if not url:
        raise SystemExit("set DOZOR_DATABASE_URL to the database to migrate")
    engine = make_engine(url)
    with engine.begin() as own_connection:
        run(own_connection)
    engine.dispose()
