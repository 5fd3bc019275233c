"""ssh backups: running-config versions per device; SSH host keys (trust on first use, a changed
key awaiting acceptance) and the last backup's outcome

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "config_versions",
        sa.Column("id", ID, nullable=False),
        sa.Column("device_id", ID, nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_config_versions_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_versions")),
    )
    op.create_index("ix_config_versions_device_at", "config_versions", ["device_id", "at"], unique=False)
    op.create_table(
        "ssh_states",
        sa.Column("device_id", ID, nullable=False),
        sa.Column("host_key", sa.Text(), nullable=True),
        sa.Column("host_key_at", TIMESTAMP, nullable=True),
        sa.Column("pending_host_key", sa.Text(), nullable=True),
        sa.Column("pending_host_key_at", TIMESTAMP, nullable=True),
        sa.Column("last_success_at", TIMESTAMP, nullable=True),
        sa.Column("last_error_kind", sa.String(length=32), nullable=True),
        sa.Column("last_error_message", sa.Text(), nullable=True),
        sa.Column("last_error_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_ssh_states_device_id_devices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_ssh_states")),
    )


def downgrade() -> None:
    op.drop_table("ssh_states")
    op.drop_index("ix_config_versions_device_at", table_name="config_versions")
    op.drop_table("config_versions")
