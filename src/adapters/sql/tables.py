"""The relational schema (SQLAlchemy Core). Alembic migrations own it in databases;
tests check that the migrated schema matches these tables.

Hot rows are keyed by concert and date (seats, reservations) or by concert (queue
tokens), so a large deployment can partition them that way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    Uuid,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from concert_core.domain.sale import MAX_MESSAGE_LENGTH
from concert_core.domain.values import MAX_BALANCE


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Instants stored in UTC; always read back timezone-aware.

    PostgreSQL keeps ``timestamptz``; SQLite keeps naive UTC text, whose fixed format
    orders like the instants it names.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValueError("instants are stored timezone-aware")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


Serial = BigInteger().with_variant(Integer, "sqlite")
"""An autoincrementing key: ``bigint`` identity in PostgreSQL, ``INTEGER PRIMARY KEY``
(a rowid alias) in SQLite."""

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

concerts = Table(
    "concerts",
    metadata,
    Column("concert_id", Serial, primary_key=True, autoincrement=True),
    Column("title", Text, nullable=False),
    Column("venue", Text, nullable=False),
    # The sale settings (docs/contract.md §8); NULL is the setting's default.
    Column("prequeue_opens_at", UtcDateTime, nullable=True),
    Column("opens_at", UtcDateTime, nullable=True),
    Column("closes_at", UtcDateTime, nullable=True),
    Column("paused", Boolean, nullable=False, server_default=false()),
    Column("capacity", Integer, nullable=True),
    Column("admission_per_minute", Integer, nullable=True),
    Column("join_challenge", Boolean, nullable=False, server_default=false()),
    Column("message", String(MAX_MESSAGE_LENGTH), nullable=True),
    sqlite_autoincrement=True,
)

concert_dates = Table(
    "concert_dates",
    metadata,
    Column("concert_id", BigInteger, ForeignKey("concerts.concert_id"), nullable=False),
    Column("date", Date, nullable=False),
    PrimaryKeyConstraint("concert_id", "date"),
)

seats = Table(
    "seats",
    metadata,
    Column("concert_id", BigInteger, nullable=False),
    Column("date", Date, nullable=False),
    Column("seat_no", Integer, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),
    # The seat row is the hold (decision 20): who holds it, until when, under which
    # reservation id and queue token, since when. A sold seat keeps its buyer and
    # reservation id; its reservation's record is in reservation_records.
    Column("holder", Uuid, nullable=True),
    Column("held_until", UtcDateTime, nullable=True),
    Column("reservation_id", Uuid, nullable=True),
    Column("token_id", Uuid, nullable=True),
    Column("held_at", UtcDateTime, nullable=True),
    PrimaryKeyConstraint("concert_id", "date", "seat_no"),
    ForeignKeyConstraint(
        ["concert_id", "date"], ["concert_dates.concert_id", "concert_dates.date"]
    ),
    CheckConstraint("seat_no BETWEEN 1 AND 50", name="seat_no"),
    CheckConstraint("price >= 0", name="price"),
    CheckConstraint("status IN ('AVAILABLE', 'HELD', 'SOLD')", name="status"),
    Index(None, "concert_id", "date", "status"),
    # A reservation read or paid by its id; a turn's holds; the sweeper's lapsed holds.
    Index(
        None,
        "reservation_id",
        sqlite_where=text("reservation_id IS NOT NULL"),
        postgresql_where=text("reservation_id IS NOT NULL"),
    ),
    Index(
        None,
        "token_id",
        sqlite_where=text("status = 'HELD'"),
        postgresql_where=text("status = 'HELD'"),
    ),
    # (Its predicate names held_until, so that a query of one turn's holds, which says
    # nothing of held_until, can only take the token_id index.)
    Index(
        None,
        "held_until",
        sqlite_where=text("status = 'HELD' AND held_until IS NOT NULL"),
        postgresql_where=text("status = 'HELD' AND held_until IS NOT NULL"),
    ),
)

RESERVATION_COLUMNS = (
    "reservation_id",
    "user_id",
    "concert_id",
    "date",
    "seat_no",
    "price",
    "status",
    "held_until",
    "created_at",
    "token_id",
)
"""The columns of a reservation, in the order the ``reservations`` view lists them."""

reservation_records = Table(
    # The reservations that left their hold: paid (CONFIRMED) or RELEASED. A live or
    # lapsed hold is its seat's row alone until it is paid or released (decision 20).
    "reservation_records",
    metadata,
    Column("reservation_id", Uuid, primary_key=True),
    Column("user_id", Uuid, nullable=False),
    Column("concert_id", BigInteger, nullable=False),
    Column("date", Date, nullable=False),
    Column("seat_no", Integer, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),
    Column("held_until", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("token_id", Uuid, nullable=False),
    # No foreign key to the seat: a record is written from its seat's row, in the
    # statement that ends the hold, and seats are never deleted.
    CheckConstraint("status IN ('CONFIRMED', 'RELEASED')", name="status"),
    # The backstop against selling a seat twice: one paid reservation per seat.
    Index(
        "uq_reservation_records_sold_seat",
        "concert_id",
        "date",
        "seat_no",
        unique=True,
        sqlite_where=text("status = 'CONFIRMED'"),
        postgresql_where=text("status = 'CONFIRMED'"),
    ),
)

views = MetaData()
"""Views: read like tables, created by the migrations (not compared with ``metadata``)."""

reservations = Table(
    # Every reservation, as one relation: the records, and each held seat's hold (its
    # status HELD, lapsed or not). A view (migration 0005), for reading only.
    "reservations",
    views,
    Column("reservation_id", Uuid, primary_key=True),
    Column("user_id", Uuid, nullable=False),
    Column("concert_id", BigInteger, nullable=False),
    Column("date", Date, nullable=False),
    Column("seat_no", Integer, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),
    Column("held_until", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("token_id", Uuid, nullable=False),
)

RESERVATIONS_VIEW = """
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
"""The ``reservations`` view's definition (migration 0005 creates it)."""

FanHolds = JSON().with_variant(JSONB, "postgresql")
"""A fan's holds in a concert: ``{reservation id: held until, in µs since the epoch}``."""

fan_holds = Table(
    # One row per fan and concert, PostgreSQL's device for the hold limit: a hold adds
    # its entry with ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` the entries still
    # live number fewer than the limit, a condition PostgreSQL checks on the row's
    # latest version under its lock; a release or a payment takes entries out, and a
    # lapsed entry counts no more. SQLite's one write lock lets it count the seats.
    "fan_holds",
    metadata,
    Column("user_id", Uuid, nullable=False),
    Column("concert_id", BigInteger, nullable=False),
    Column("holds", FanHolds, nullable=False),
    PrimaryKeyConstraint("user_id", "concert_id"),
)

wallets = Table(
    "wallets",
    metadata,
    Column("user_id", Uuid, primary_key=True),
    Column("balance", BigInteger, nullable=False),
    CheckConstraint(f"balance BETWEEN 0 AND {MAX_BALANCE}", name="balance"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("serial", Serial, primary_key=True, autoincrement=True),
    Column("entry_id", Uuid, nullable=False, unique=True),
    Column("user_id", Uuid, ForeignKey("wallets.user_id"), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("payment_id", Uuid, nullable=True),
    CheckConstraint("kind IN ('CHARGE', 'PAYMENT')", name="kind"),
    Index(None, "user_id", "serial"),
    sqlite_autoincrement=True,
)

payments = Table(
    "payments",
    metadata,
    Column("serial", Serial, primary_key=True, autoincrement=True),
    Column("payment_id", Uuid, nullable=False, unique=True),
    Column("user_id", Uuid, nullable=False),
    Column("concert_id", BigInteger, nullable=False),
    Column("reservation_ids", JSON, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("paid_at", UtcDateTime, nullable=False),
    Column("token_id", Uuid, nullable=True),
    Index(None, "user_id", "serial"),
    Index(None, "concert_id"),
    # A turn pays once: one payment per queue token.
    Index(
        "uq_payments_token_id",
        "token_id",
        unique=True,
        sqlite_where=text("token_id IS NOT NULL"),
        postgresql_where=text("token_id IS NOT NULL"),
    ),
    sqlite_autoincrement=True,
)

queue_tokens = Table(
    "queue_tokens",
    metadata,
    # The issue sequence: drawn from the database (identity / autoincrement), never a
    # clock. Shared by every instance, increasing with each insert.
    Column("sequence", Serial, primary_key=True, autoincrement=True),
    Column("token_id", Uuid, nullable=False, unique=True),
    Column("user_id", Uuid, nullable=False),
    Column("concert_id", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("active_until", UtcDateTime, nullable=True),
    # The turn's base end; ``held_until`` is how long live holds keep it past that.
    Column("held_until", UtcDateTime, nullable=True),
    # The place in line: the sequence, except for the pre-queue, whose places the
    # opening dealt out again in the shuffled order (``queue_openings``).
    Column("slot", BigInteger, nullable=False),
    CheckConstraint("status IN ('WAITING', 'ACTIVE', 'EXPIRED')", name="status"),
    # One live token per user and concert.
    Index(
        "uq_queue_tokens_live_user",
        "concert_id",
        "user_id",
        unique=True,
        sqlite_where=text("status IN ('WAITING', 'ACTIVE')"),
        postgresql_where=text("status IN ('WAITING', 'ACTIVE')"),
    ),
    Index(None, "concert_id", "status", "slot"),
    Index(None, "concert_id", "status", "last_seen_at"),
    Index(None, "concert_id", "status", "active_until"),
    sqlite_autoincrement=True,
)

queue_admissions = Table(
    "queue_admissions",
    metadata,
    Column("serial", Serial, primary_key=True, autoincrement=True),
    Column("concert_id", BigInteger, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("admitted", Integer, nullable=False),
    Index(None, "concert_id", "at"),
    sqlite_autoincrement=True,
)

queue_openings = Table(
    "queue_openings",
    metadata,
    # A concert's line, opened once: the seed its pre-queue was shuffled with.
    Column("concert_id", BigInteger, primary_key=True, autoincrement=False),
    Column("seed", BigInteger, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("user_id", Uuid, nullable=False),
    Column("operation", String(32), nullable=False),
    Column("key", String(255), nullable=False),
    Column("fingerprint", String(128), nullable=False),
    Column("claim_id", Uuid, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("result", JSON(none_as_null=True), nullable=True),
    PrimaryKeyConstraint("user_id", "operation", "key"),
    Index(None, "started_at"),
)

spent_proofs = Table(
    # Join-challenge solutions used (docs/contract.md §9): one row each, until it expires.
    "spent_proofs",
    metadata,
    Column("concert_id", BigInteger, nullable=False, autoincrement=False),
    Column("challenge", String(64), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("concert_id", "challenge"),
    Index(None, "expires_at"),
)

service_secrets = Table(
    "service_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

RateLog = JSON().with_variant(ARRAY(BigInteger), "postgresql")
"""A rate limit key's accepted hits, microseconds since the epoch: ``bigint[]`` in
PostgreSQL (its one-statement hit works on the array), a JSON list in SQLite."""

rate_limits = Table(
    "rate_limits",
    metadata,
    # One row per limited key (``join:ip:<address>``, ``join:fan:<uuid>``, ...): the
    # hits it accepted in the last window. No index on last_hit: the sweep that deletes
    # quiet keys runs once a minute and reads the whole (small) table.
    Column("key", String(200), primary_key=True),
    Column("hits", RateLog, nullable=False),
    Column("last_hit", BigInteger, nullable=False),
)
