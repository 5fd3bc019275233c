"""supply samples: printer supply levels over time, for the "days until empty" forecast;
poll claims: which collector replica polls a device

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("poll_claimed_by", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("poll_claimed_at", TIMESTAMP, nullable=True))
    op.create_table(
        "supply_samples",
        sa.Column("id", ID, nullable=False),
        sa.Column("device_id", ID, nullable=False),
        sa.Column("supply", sa.String(length=1024), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("percent", sa.Float(), nullable=False),
        sa.Column("empty_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_supply_samples_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supply_samples")),
    )
    op.create_index(
        "ix_supply_samples_device_supply_at", "supply_samples", ["device_id", "supply", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_supply_samples_device_supply_at", table_name="supply_samples")
    op.drop_table("supply_samples")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("poll_claimed_at")
        batch_op.drop_column("poll_claimed_by")
