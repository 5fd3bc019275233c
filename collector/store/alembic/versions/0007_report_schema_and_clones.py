"""report schema and clones: the schema version each agent sends; the SMBIOS UUID a PC enrolled
with, and the device whose machine id a cloned PC shares

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schema_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("hardware_uuid", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("clone_of", ID, nullable=True))
        batch_op.add_column(
            sa.Column("clone_conflict", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("clone_conflict")
        batch_op.drop_column("clone_of")
        batch_op.drop_column("hardware_uuid")
        batch_op.drop_column("schema_version")
