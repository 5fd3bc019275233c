"""lan discovery: discovered devices' MAC and IP, the acceptance details (responsible person,
inventory number, note), MACs' switch ports over time, administrators' lifecycle actions, and
leases for jobs one replica runs at a time

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mac", sa.String(length=17), nullable=True))
        batch_op.add_column(sa.Column("ip", sa.String(length=45), nullable=True))
        batch_op.add_column(sa.Column("responsible_person", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("inventory_number", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_devices_mac"), ["mac"], unique=True)
    op.create_table(
        "port_locations",
        sa.Column("id", ID, nullable=False),
        sa.Column("mac", sa.String(length=17), nullable=False),
        sa.Column("device_id", ID, nullable=True),
        sa.Column("switch_id", ID, nullable=False),
        sa.Column("port", sa.String(length=256), nullable=False),
        sa.Column("vlan", sa.Integer(), nullable=True),
        sa.Column("first_seen_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_port_locations_device_id_devices"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["switch_id"],
            ["devices.id"],
            name=op.f("fk_port_locations_switch_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_port_locations")),
    )
    op.create_index("ix_port_locations_mac_is_current", "port_locations", ["mac", "is_current"], unique=False)
    op.create_index(op.f("ix_port_locations_device_id"), "port_locations", ["device_id"], unique=False)
    op.create_table(
        "lifecycle_actions",
        sa.Column("id", ID, nullable=False),
        sa.Column("device_id", ID, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("by", sa.String(length=256), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("values", JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_lifecycle_actions_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lifecycle_actions")),
    )
    op.create_index("ix_lifecycle_actions_device_at", "lifecycle_actions", ["device_id", "at"], unique=False)
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("claimed_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index("ix_lifecycle_actions_device_at", table_name="lifecycle_actions")
    op.drop_table("lifecycle_actions")
    op.drop_index(op.f("ix_port_locations_device_id"), table_name="port_locations")
    op.drop_index("ix_port_locations_mac_is_current", table_name="port_locations")
    op.drop_table("port_locations")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_mac"))
        batch_op.drop_column("note")
        batch_op.drop_column("inventory_number")
        batch_op.drop_column("responsible_person")
        batch_op.drop_column("ip")
        batch_op.drop_column("mac")
