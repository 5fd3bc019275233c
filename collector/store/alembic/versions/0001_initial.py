"""initial: devices, agent tokens, installed software, change events

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def _device_id(table: str) -> list[sa.SchemaItem]:
    return [
        sa.Column("device_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f(f"fk_{table}_device_id_devices"), ondelete="CASCADE"
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("machine_id", sa.String(128), nullable=True),
        sa.Column("hostname", sa.String(1024), nullable=False),
        sa.Column("lifecycle", sa.String(16), nullable=False),
        sa.Column("first_seen_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
        sa.Column("agent_version", sa.String(64), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("reports_accepted", sa.BigInteger(), nullable=False),
        sa.Column("seq_gaps", sa.BigInteger(), nullable=False),
        sa.Column("facts", JSON, nullable=True),
        sa.Column("facts_hash", sa.String(64), nullable=True),
        sa.Column("facts_at", TIMESTAMP, nullable=True),
        sa.Column("health", JSON, nullable=True),
        sa.Column("health_at", TIMESTAMP, nullable=True),
        sa.Column("probe_errors", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("machine_id", name=op.f("uq_devices_machine_id")),
    )
    op.create_index(op.f("ix_devices_kind"), "devices", ["kind"])
    op.create_index(op.f("ix_devices_last_seen_at"), "devices", ["last_seen_at"])

    op.create_table(
        "agent_tokens",
        sa.Column("id", ID, nullable=False),
        *_device_id("agent_tokens"),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_agent_tokens_token_sha256")),
    )
    op.create_index(op.f("ix_agent_tokens_device_id"), "agent_tokens", ["device_id"])

    op.create_table(
        "installed_software",
        sa.Column("id", ID, nullable=False),
        *_device_id("installed_software"),
        sa.Column("name", sa.String(1024), nullable=False),
        sa.Column("version", sa.String(1024), nullable=True),
        sa.Column("publisher", sa.String(1024), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("architecture", sa.String(1024), nullable=True),
        sa.Column("install_date", sa.String(1024), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installed_software")),
    )
    op.create_index(op.f("ix_installed_software_device_id"), "installed_software", ["device_id"])
    op.create_index("ix_installed_software_name_version", "installed_software", ["name", "version"])

    op.create_table(
        "change_events",
        sa.Column("id", ID, nullable=False),
        *_device_id("change_events"),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("old_value", JSON, nullable=True),
        sa.Column("new_value", JSON, nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_events")),
    )
    op.create_index(op.f("ix_change_events_at"), "change_events", ["at"])
    op.create_index("ix_change_events_device_at", "change_events", ["device_id", "at"])


def downgrade() -> None:
    for table in ("change_events", "installed_software", "agent_tokens", "devices"):
        op.drop_table(table)
