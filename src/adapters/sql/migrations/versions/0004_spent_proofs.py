"""join challenges: the solutions used, each kept until it expires

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spent_proofs",
        sa.Column("concert_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("challenge", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("concert_id", "challenge", name=op.f("pk_spent_proofs")),
    )
    op.create_index(
        op.f("ix_spent_proofs_expires_at"), "spent_proofs", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_spent_proofs_expires_at"), table_name="spent_proofs")
    op.drop_table("spent_proofs")
