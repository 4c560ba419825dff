"""the seat row is the hold: reservations recorded when paid or released, a view over both

A hold lives on its seat's row alone (holder, held_until, reservation_id, and now the
turn's token_id and the hold's held_at); ``reservation_records`` keeps the reservations
that were paid (CONFIRMED) or RELEASED; the ``reservations`` view lists both, as the
table of that name did. ``fan_holds`` is PostgreSQL's per-(fan, concert) row for the
hold limit (decision 20).

Upgrading a database in use: every HELD reservation that its seat's row holds moves
onto that row (its token and creation time) and leaves the table; paid and released
ones are copied as they are. A HELD reservation whose seat no longer names it cannot
be made by the earlier code (a hold and its seat changed together under the seat's
lock); should one exist, it was not live (its seat is free or someone else's) and is
recorded RELEASED, which is how it read already wherever its seat was looked at.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = (
    "reservation_id, user_id, concert_id, date, seat_no, price, status, held_until,"
    " created_at, token_id"
)

VIEW = """
CREATE VIEW reservations AS
SELECT reservation_id, user_id, concert_id, date, seat_no, price, status, held_until,
       created_at, token_id
FROM reservation_records
UNION ALL
SELECT reservation_id, holder, concert_id, date, seat_no, price,
       CAST('HELD' AS VARCHAR(10)), held_until, held_at, token_id
FROM seats
WHERE status = 'HELD'
"""

ON_ITS_SEAT = (
    "EXISTS (SELECT 1 FROM seats AS s WHERE s.reservation_id = r.reservation_id"
    " AND s.status = 'HELD')"
)
"""A HELD reservation that its seat's row holds (``r`` is the reservation)."""


def _seat_indexes() -> None:
    held = sa.text("status = 'HELD'")
    named = sa.text("reservation_id IS NOT NULL")
    op.create_index(
        op.f("ix_seats_reservation_id"),
        "seats",
        ["reservation_id"],
        sqlite_where=named,
        postgresql_where=named,
    )
    op.create_index(
        op.f("ix_seats_token_id"), "seats", ["token_id"], sqlite_where=held, postgresql_where=held
    )
    lapsing = sa.text("status = 'HELD' AND held_until IS NOT NULL")
    op.create_index(
        op.f("ix_seats_held_until"),
        "seats",
        ["held_until"],
        sqlite_where=lapsing,
        postgresql_where=lapsing,
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column("seats", sa.Column("token_id", sa.Uuid(), nullable=True))
    op.add_column("seats", sa.Column("held_at", sa.DateTime(timezone=True), nullable=True))
    for column, source in (("token_id", "token_id"), ("held_at", "created_at")):
        op.execute(
            f"UPDATE seats SET {column} = (SELECT r.{source} FROM reservations AS r"
            " WHERE r.reservation_id = seats.reservation_id AND r.status = 'HELD')"
            " WHERE status = 'HELD'"
        )
    op.create_table(
        "reservation_records",
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
            "status IN ('CONFIRMED', 'RELEASED')", name=op.f("ck_reservation_records_status")
        ),
        sa.PrimaryKeyConstraint("reservation_id", name=op.f("pk_reservation_records")),
    )
    op.execute(
        f"INSERT INTO reservation_records ({COLUMNS})"
        " SELECT reservation_id, user_id, concert_id, date, seat_no, price,"
        " CASE WHEN status = 'HELD' THEN 'RELEASED' ELSE status END,"
        " held_until, created_at, token_id"
        f" FROM reservations AS r WHERE NOT (r.status = 'HELD' AND {ON_ITS_SEAT})"
    )
    op.create_index(
        "uq_reservation_records_sold_seat",
        "reservation_records",
        ["concert_id", "date", "seat_no"],
        unique=True,
        sqlite_where=sa.text("status = 'CONFIRMED'"),
        postgresql_where=sa.text("status = 'CONFIRMED'"),
    )
    op.create_table(
        "fan_holds",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("concert_id", sa.BigInteger(), nullable=False),
        sa.Column("holds", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "concert_id", name=op.f("pk_fan_holds")),
    )
    if postgres:
        # Each fan's holds (live or lapsed: a lapsed entry counts no more) by concert.
        op.execute(
            "INSERT INTO fan_holds (user_id, concert_id, holds)"
            " SELECT holder, concert_id, jsonb_object_agg(CAST(reservation_id AS text),"
            " CAST(floor(extract(epoch FROM held_until) * 1000000) AS bigint))"
            " FROM seats WHERE status = 'HELD' GROUP BY holder, concert_id"
        )
    op.drop_table("reservations")
    _seat_indexes()
    op.execute(VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW reservations")
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
    op.execute(f"INSERT INTO reservations ({COLUMNS}) SELECT {COLUMNS} FROM reservation_records")
    op.execute(
        f"INSERT INTO reservations ({COLUMNS})"
        " SELECT reservation_id, holder, concert_id, date, seat_no, price, 'HELD',"
        " held_until, held_at, token_id FROM seats WHERE status = 'HELD'"
    )
    op.create_index(
        op.f("ix_reservations_status_held_until"), "reservations", ["status", "held_until"]
    )
    op.create_index(op.f("ix_reservations_token_id_status"), "reservations", ["token_id", "status"])
    op.create_index(
        op.f("ix_reservations_user_id_concert_id_status"),
        "reservations",
        ["user_id", "concert_id", "status"],
    )
    op.create_index(
        "uq_reservations_live_seat",
        "reservations",
        ["concert_id", "date", "seat_no"],
        unique=True,
        sqlite_where=sa.text("status IN ('HELD', 'CONFIRMED')"),
        postgresql_where=sa.text("status IN ('HELD', 'CONFIRMED')"),
    )
    op.drop_table("fan_holds")
    op.drop_index("uq_reservation_records_sold_seat", table_name="reservation_records")
    op.drop_table("reservation_records")
    for index in ("ix_seats_held_until", "ix_seats_token_id", "ix_seats_reservation_id"):
        op.drop_index(op.f(index), table_name="seats")
    op.drop_column("seats", "held_at")
    op.drop_column("seats", "token_id")
