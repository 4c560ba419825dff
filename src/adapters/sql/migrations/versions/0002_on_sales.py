"""on-sales: sale settings, the line's own order, holds that extend a turn, a turn that
pays once

Every change keeps the data there is: the new concert columns are the settings'
defaults (a sale open at once), each token's place in line is its sequence number, no
turn is held past its time by a hold, and no payment names its turn.

Revision ID: 0002
Revises: 0001
Create Date: 2027-01-11 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TOKEN_IS_SET = sa.text("token_id IS NOT NULL")


def upgrade() -> None:
    # Columns are added in place (no table copy on SQLite: rows of other tables refer
    # to concerts); the NOT NULL ones take their default.
    op.add_column("concerts", sa.Column("prequeue_opens_at", sa.DateTime(timezone=True)))
    op.add_column("concerts", sa.Column("opens_at", sa.DateTime(timezone=True)))
    op.add_column("concerts", sa.Column("closes_at", sa.DateTime(timezone=True)))
    op.add_column(
        "concerts", sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("concerts", sa.Column("capacity", sa.Integer()))
    op.add_column("concerts", sa.Column("admission_per_minute", sa.Integer()))
    op.add_column(
        "concerts",
        sa.Column("join_challenge", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("concerts", sa.Column("message", sa.String(length=500)))

    _add_slots()

    op.add_column("payments", sa.Column("token_id", sa.Uuid()))
    op.create_index(op.f("ix_payments_concert_id"), "payments", ["concert_id"], unique=False)
    op.create_index(
        "uq_payments_token_id",
        "payments",
        ["token_id"],
        unique=True,
        sqlite_where=_TOKEN_IS_SET,
        postgresql_where=_TOKEN_IS_SET,
    )

    op.create_table(
        "queue_openings",
        sa.Column("concert_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("concert_id", name=op.f("pk_queue_openings")),
    )


def _add_slots() -> None:
    """``queue_tokens`` gains ``held_until`` (NULL: no hold keeps a turn) and ``slot``
    (its sequence number); positions are counted by slot, so its index replaces the
    sequence's.

    SQLite cannot make a column NOT NULL in place: the table is copied (no other table
    refers to it). The copy keeps the rows' sequence numbers, their partial unique
    index, and the counter new numbers are drawn from: a number once drawn is never
    drawn again.
    """
    on_sqlite = op.get_bind().dialect.name == "sqlite"
    drawn = _drawn_sequence() if on_sqlite else None
    op.add_column("queue_tokens", sa.Column("held_until", sa.DateTime(timezone=True)))
    op.add_column("queue_tokens", sa.Column("slot", sa.BigInteger()))
    op.execute("UPDATE queue_tokens SET slot = sequence")
    op.drop_index("ix_queue_tokens_concert_id_status_sequence", table_name="queue_tokens")
    if on_sqlite:
        with op.batch_alter_table(
            "queue_tokens", table_kwargs={"sqlite_autoincrement": True}
        ) as batch_op:
            batch_op.alter_column("slot", existing_type=sa.BigInteger(), nullable=False)
        _restore_drawn_sequence(drawn)
    else:
        op.alter_column("queue_tokens", "slot", existing_type=sa.BigInteger(), nullable=False)
    op.create_index(
        op.f("ix_queue_tokens_concert_id_status_slot"),
        "queue_tokens",
        ["concert_id", "status", "slot"],
        unique=False,
    )


def _drawn_sequence() -> int | None:
    """SQLite: the greatest sequence number ever drawn (None: none yet)."""
    drawn = op.get_bind().scalar(
        sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'queue_tokens'")
    )
    return None if drawn is None else int(drawn)


def _restore_drawn_sequence(drawn: int | None) -> None:
    if drawn is not None:
        op.execute(
            sa.text(
                "UPDATE sqlite_sequence SET seq = max(seq, :drawn) WHERE name = 'queue_tokens'"
            ).bindparams(drawn=drawn)
        )


def downgrade() -> None:
    # Columns are dropped in place (SQLite 3.35 and later), their indexes first.
    op.drop_table("queue_openings")

    op.drop_index(
        "uq_payments_token_id",
        table_name="payments",
        sqlite_where=_TOKEN_IS_SET,
        postgresql_where=_TOKEN_IS_SET,
    )
    op.drop_index(op.f("ix_payments_concert_id"), table_name="payments")
    op.drop_column("payments", "token_id")

    op.drop_index(op.f("ix_queue_tokens_concert_id_status_slot"), table_name="queue_tokens")
    op.create_index(
        op.f("ix_queue_tokens_concert_id_status_sequence"),
        "queue_tokens",
        ["concert_id", "status", "sequence"],
        unique=False,
    )
    op.drop_column("queue_tokens", "slot")
    op.drop_column("queue_tokens", "held_until")

    for column in (
        "message",
        "join_challenge",
        "admission_per_minute",
        "capacity",
        "paused",
        "closes_at",
        "opens_at",
        "prequeue_opens_at",
    ):
        op.drop_column("concerts", column)
