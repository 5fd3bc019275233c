"""snmp devices: address, display name, location, group

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("display_name", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("location", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("site_group", sa.String(length=256), nullable=True))
        batch_op.create_index(batch_op.f("ix_devices_address"), ["address"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_address"))
        batch_op.drop_column("site_group")
        batch_op.drop_column("location")
        batch_op.drop_column("display_name")
        batch_op.drop_column("address")
