"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 07:10:01.753152
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "concerts",
        sa.Column(
            "concert_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("venue", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("concert_id", name=op.f("pk_concerts")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "operation", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_started_at"), ["started_at"], unique=False
        )

    op.create_table(
        "payments",
        sa.Column(
            "serial",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("concert_id", sa.BigInteger(), nullable=False),
        sa.Column("reservation_ids", sa.JSON(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_payments")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_payments_payment_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payments_user_id_serial"), ["user_id", "serial"], unique=False
        )

    op.create_table(
        "queue_admissions",
        sa.Column(
            "serial",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("concert_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("admitted", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_queue_admissions")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("queue_admissions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_queue_admissions_concert_id_at"), ["concert_id", "at"], unique=False
        )

    op.create_table(
        "queue_tokens",
        sa.Column(
            "sequence",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("token_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("concert_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('WAITING', 'ACTIVE', 'EXPIRED')", name=op.f("ck_queue_tokens_status")
        ),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_queue_tokens")),
        sa.UniqueConstraint("token_id", name=op.f("uq_queue_tokens_token_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("queue_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_queue_tokens_concert_id_status_active_until"),
            ["concert_id", "status", "active_until"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_queue_tokens_concert_id_status_last_seen_at"),
            ["concert_id", "status", "last_seen_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_queue_tokens_concert_id_status_sequence"),
            ["concert_id", "status", "sequence"],
            unique=False,
        )
        batch_op.create_index(
            "uq_queue_tokens_live_user",
            ["concert_id", "user_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('WAITING', 'ACTIVE')"),
            postgresql_where=sa.text("status IN ('WAITING', 'ACTIVE')"),
        )

    op.create_table(
        "service_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_service_secrets")),
    )
    op.create_table(
        "wallets",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("balance BETWEEN 0 AND 1000000000000", name=op.f("ck_wallets_balance")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_wallets")),
    )
    op.create_table(
        "concert_dates",
        sa.Column("concert_id", sa.BigInteger(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["concert_id"],
            ["concerts.concert_id"],
            name=op.f("fk_concert_dates_concert_id_concerts"),
        ),
        sa.PrimaryKeyConstraint("concert_id", "date", name=op.f("pk_concert_dates")),
    )
    op.create_table(
        "ledger",
        sa.Column(
            "serial",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint("kind IN ('CHARGE', 'PAYMENT')", name=op.f("ck_ledger_kind")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["wallets.user_id"], name=op.f("fk_ledger_user_id_wallets")
        ),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_ledger")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_ledger_entry_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_user_id_serial"), ["user_id", "serial"], unique=False
        )

    op.create_table(
        "seats",
        sa.Column("concert_id", sa.BigInteger(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("seat_no", sa.Integer(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("holder", sa.Uuid(), nullable=True),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reservation_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint("status IN ('AVAILABLE', 'HELD', 'SOLD')", name=op.f("ck_seats_status")),
        sa.CheckConstraint("price >= 0", name=op.f("ck_seats_price")),
        sa.CheckConstraint("seat_no BETWEEN 1 AND 50", name=op.f("ck_seats_seat_no")),
        sa.ForeignKeyConstraint(
            ["concert_id", "date"],
            ["concert_dates.concert_id", "concert_dates.date"],
            name=op.f("fk_seats_concert_id_concert_dates"),
        ),
        sa.PrimaryKeyConstraint("concert_id", "date", "seat_no", name=op.f("pk_seats")),
    )
    with op.batch_alter_table("seats", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_seats_concert_id_date_status"),
            ["concert_id", "date", "status"],
            unique=False,
        )

    op.create_table(
        "reservations",
        sa.Column("reservation_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("concert_id", sa.BigInteger(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("seat_no", sa.Integer(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "status IN ('HELD', 'CONFIRMED', 'RELEASED')", name=op.f("ck_reservations_status")
        ),
        sa.ForeignKeyConstraint(
            ["concert_id", "date", "seat_no"],
            ["seats.concert_id", "seats.date", "seats.seat_no"],
            name=op.f("fk_reservations_concert_id_seats"),
        ),
        sa.PrimaryKeyConstraint("reservation_id", name=op.f("pk_reservations")),
    )
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reservations_status_held_until"), ["status", "held_until"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reservations_token_id_status"), ["token_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reservations_user_id_concert_id_status"),
            ["user_id", "concert_id", "status"],
            unique=False,
        )
        batch_op.create_index(
            "uq_reservations_live_seat",
            ["concert_id", "date", "seat_no"],
            unique=True,
            sqlite_where=sa.text("status IN ('HELD', 'CONFIRMED')"),
            postgresql_where=sa.text("status IN ('HELD', 'CONFIRMED')"),
        )


def downgrade() -> None:

    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_reservations_live_seat",
            sqlite_where=sa.text("status IN ('HELD', 'CONFIRMED')"),
            postgresql_where=sa.text("status IN ('HELD', 'CONFIRMED')"),
        )
        batch_op.drop_index(batch_op.f("ix_reservations_user_id_concert_id_status"))
        batch_op.drop_index(batch_op.f("ix_reservations_token_id_status"))
        batch_op.drop_index(batch_op.f("ix_reservations_status_held_until"))

    op.drop_table("reservations")
    with op.batch_alter_table("seats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seats_concert_id_date_status"))

    op.drop_table("seats")
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_user_id_serial"))

    op.drop_table("ledger")
    op.drop_table("concert_dates")
    op.drop_table("wallets")
    op.drop_table("service_secrets")
    with op.batch_alter_table("queue_tokens", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_queue_tokens_live_user",
            sqlite_where=sa.text("status IN ('WAITING', 'ACTIVE')"),
            postgresql_where=sa.text("status IN ('WAITING', 'ACTIVE')"),
        )
        batch_op.drop_index(batch_op.f("ix_queue_tokens_concert_id_status_sequence"))
        batch_op.drop_index(batch_op.f("ix_queue_tokens_concert_id_status_last_seen_at"))
        batch_op.drop_index(batch_op.f("ix_queue_tokens_concert_id_status_active_until"))

    op.drop_table("queue_tokens")
    with op.batch_alter_table("queue_admissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queue_admissions_concert_id_at"))

    op.drop_table("queue_admissions")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_user_id_serial"))

    op.drop_table("payments")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_started_at"))

    op.drop_table("idempotency_keys")
    op.drop_table("concerts")
