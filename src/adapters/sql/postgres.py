"""PostgreSQL's prebuilt statements for the hot paths: a hold in two statements, a
positive debit in one (docs/decisions/0012-hot-paths-in-few-statements.md, decision 12)
and a new queue token in one; and the opening's re-deal of the line in one. SQLite takes
the statement-at-a-time path in the adapters instead."""

from __future__ import annotations

from sqlalchemy import Integer, bindparam, cast, func, select, text

from adapters.sql import tables as t
from adapters.sql.holds import SEAT_KEY

LOCK_SEAT_FOR_HOLD = (
    select(
        t.seats,
        func.pg_advisory_xact_lock(
            cast(bindparam("user_key"), Integer), cast(bindparam("concert_key"), Integer)
        ),
    )
    .where(SEAT_KEY)
    .with_for_update(of=t.seats)
)
"""One round trip: the seat row, locked, and the lock that serialises one fan's holds in
one concert (so two of them cannot both see room under the limit). Every hold takes the
two locks in this one statement, so always in one order."""

HOLD = text(
    """
WITH live AS (
    SELECT count(*) AS n FROM reservations
    WHERE user_id = :user_id AND concert_id = :concert_id
      AND status = 'HELD' AND held_until > :now
), taken AS (
    UPDATE seats
    SET status = 'HELD', holder = :user_id, held_until = :until,
        reservation_id = :reservation_id
    WHERE concert_id = :concert_id AND date = :date AND seat_no = :seat_no
      AND (status = 'AVAILABLE' OR (status = 'HELD' AND held_until <= :now))
      AND (SELECT n FROM live) < :max_holds
    RETURNING price
), released AS (
    UPDATE reservations SET status = 'RELEASED'
    WHERE reservation_id = :previous AND status = 'HELD' AND held_until <= :now
      AND EXISTS (SELECT FROM taken)
    RETURNING reservation_id
), added AS (
    INSERT INTO reservations
        (reservation_id, user_id, concert_id, date, seat_no, price, status,
         held_until, created_at, token_id)
    SELECT CAST(:reservation_id AS uuid), CAST(:user_id AS uuid),
           CAST(:concert_id AS bigint), CAST(:date AS date), CAST(:seat_no AS integer),
           price, 'HELD', CAST(:until AS timestamptz), CAST(:now AS timestamptz),
           CAST(:token_id AS uuid)
    FROM taken, (SELECT count(*) FROM released) AS first_released
)
SELECT (SELECT n FROM live) AS live, (SELECT count(*) FROM taken) AS taken
"""
).bindparams(
    bindparam("now", type_=t.UtcDateTime()),
    bindparam("until", type_=t.UtcDateTime()),
)
"""The rest of a new hold in one statement, after ``LOCK_SEAT_FOR_HOLD``: count the
fan's live holds, take the seat, release the lapsed hold and record the new one,
writing nothing unless it takes the seat. The statements of a WITH run in no set order,
so ``added`` reads ``released``: the lapsed hold leaves the live-seat index before the
new one enters it."""

DEBIT = text(
    """
WITH earlier AS (
    SELECT EXISTS (SELECT FROM ledger WHERE entry_id = :entry_id) AS found
), debited AS (
    UPDATE wallets SET balance = balance - :amount
    WHERE user_id = :user_id AND balance >= :amount AND NOT (SELECT found FROM earlier)
    RETURNING balance
), entered AS (
    INSERT INTO ledger (entry_id, user_id, kind, amount, at, payment_id)
    SELECT CAST(:entry_id AS uuid), CAST(:user_id AS uuid), 'PAYMENT',
           -CAST(:amount AS bigint), CAST(:now AS timestamptz), CAST(:payment_id AS uuid)
    FROM debited
)
SELECT (SELECT found FROM earlier) AS earlier, (SELECT balance FROM debited) AS balance,
       (SELECT balance FROM wallets WHERE user_id = :user_id) AS current
"""
).bindparams(bindparam("now", type_=t.UtcDateTime()))
"""A positive debit and its ledger entry in one statement (``current`` is the balance
before it, for the refusal's message)."""

ISSUE = text(
    """
INSERT INTO queue_tokens
    (sequence, slot, token_id, user_id, concert_id, status, issued_at, last_seen_at)
SELECT drawn.n, drawn.n, CAST(:token_id AS uuid), CAST(:user_id AS uuid),
       CAST(:concert_id AS bigint), 'WAITING', CAST(:now AS timestamptz),
       CAST(:now AS timestamptz)
FROM (SELECT nextval(pg_get_serial_sequence('queue_tokens', 'sequence')) AS n) AS drawn
RETURNING sequence
"""
).bindparams(bindparam("now", type_=t.UtcDateTime()))
"""A new WAITING token, its place in line (``slot``) its sequence number: the number
drawn once and written to both."""

DEAL_SLOTS = text(
    """
UPDATE queue_tokens SET slot = dealt.slot
FROM unnest(CAST(:sequences AS bigint[]), CAST(:slots AS bigint[])) AS dealt(sequence, slot)
WHERE queue_tokens.sequence = dealt.sequence
"""
)
"""Give each token named in ``sequences`` the slot at the same place in ``slots``."""
