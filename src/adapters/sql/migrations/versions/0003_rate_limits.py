"""rate limits: each limited key's accepted hits in the last window

A new table only; nothing else changes.

Revision ID: 0003
Revises: 0002
Create Date: 2027-01-25 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column(
            "hits", sa.JSON().with_variant(sa.ARRAY(sa.BigInteger()), "postgresql"), nullable=False
        ),
        sa.Column("last_hit", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
    )


def downgrade() -> None:
    op.drop_table("rate_limits")
