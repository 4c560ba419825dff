"""PostgreSQL's prebuilt statements for the hot paths: a hold in one statement, a
payment in one and the end of a turn's holds in one (decision 20), a positive debit in
one (decision 12) and a new queue token in one; and the opening's re-deal of the line
in one. SQLite takes the statement-at-a-time path in the adapters instead."""

from __future__ import annotations

from sqlalchemy import Uuid, bindparam, text

from adapters.sql import tables as t

HOLD = text(
    """
WITH seat AS (
    SELECT concert_id, date, seat_no, price, status, holder, held_until, reservation_id,
           token_id, held_at,
           (status = 'AVAILABLE' OR (status = 'HELD' AND held_until <= :now)) AS free
    FROM seats
    WHERE concert_id = :concert_id AND date = :date AND seat_no = :seat_no
    FOR UPDATE
), fan AS (
    INSERT INTO fan_holds AS f (user_id, concert_id, holds)
    SELECT CAST(:user_id AS uuid), CAST(:concert_id AS bigint),
           jsonb_build_object(CAST(:rid AS text), CAST(:until_us AS bigint))
    FROM seat WHERE seat.free AND CAST(:max_holds AS integer) > 0
    ON CONFLICT (user_id, concert_id) DO UPDATE
    SET holds = (
        SELECT coalesce(jsonb_object_agg(e.key, e.value), CAST('{}' AS jsonb))
        FROM jsonb_each(f.holds) AS e
        WHERE CAST(e.value AS bigint) > CAST(:now_us AS bigint)
    ) || EXCLUDED.holds
    WHERE (
        SELECT count(*) FROM jsonb_each(f.holds) AS e
        WHERE CAST(e.value AS bigint) > CAST(:now_us AS bigint)
    ) < CAST(:max_holds AS integer)
    RETURNING 1
), taken AS (
    UPDATE seats
    SET status = 'HELD', holder = :user_id, held_until = :until,
        reservation_id = :reservation_id, token_id = :token_id, held_at = :now
    FROM seat
    WHERE seats.concert_id = seat.concert_id AND seats.date = seat.date
      AND seats.seat_no = seat.seat_no AND seat.free
      AND EXISTS (SELECT FROM fan)
    RETURNING 1
), moved AS (
    UPDATE seats SET token_id = :token_id
    FROM seat
    WHERE seats.concert_id = seat.concert_id AND seats.date = seat.date
      AND seats.seat_no = seat.seat_no
      AND seat.status = 'HELD' AND seat.held_until > :now AND seat.holder = :user_id
      AND seat.token_id IS DISTINCT FROM CAST(:token_id AS uuid)
    RETURNING 1
), released AS (
    INSERT INTO reservation_records
        (reservation_id, user_id, concert_id, date, seat_no, price, status,
         held_until, created_at, token_id)
    SELECT reservation_id, holder, concert_id, date, seat_no, price, 'RELEASED',
           held_until, held_at, token_id
    FROM seat WHERE status = 'HELD' AND free AND EXISTS (SELECT FROM taken)
    RETURNING 1
)
SELECT seat.*, EXISTS (SELECT FROM taken) AS taken,
       (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM released) AS released
FROM seat
"""
).bindparams(
    bindparam("now", type_=t.UtcDateTime()),
    bindparam("until", type_=t.UtcDateTime()),
)
"""A hold in one statement, judged on the seat row's latest version under its lock
(``seat``): a free seat is taken only if the fan's ``fan_holds`` row takes the hold's
entry, which ``ON CONFLICT DO UPDATE ... WHERE`` grants only while the entries still
live number fewer than the limit (checked on that row's latest version, under its
lock, so two holds of one fan cannot both see room); the fan's own live hold is moved
to this turn; a lapsed hold replaced is recorded RELEASED. It writes nothing unless it
takes or moves. The pre-state comes back (``seat.*``) with what was done."""

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

PAY = text(
    """
WITH held AS (
    SELECT concert_id, date, seat_no, price, status, holder, held_until, reservation_id,
           token_id, held_at
    FROM seats
    WHERE reservation_id IN :rids OR (token_id = :token_id AND status = 'HELD')
    ORDER BY concert_id, date, seat_no
    FOR UPDATE
), due AS (
    SELECT count(*) AS n, CAST(coalesce(sum(price), 0) AS bigint) AS amount
    FROM held
    WHERE reservation_id IN :rids AND status = 'HELD'
      AND held_until > :now AND holder = :user_id AND concert_id = :concert_id
), fresh AS (
    SELECT (SELECT n FROM due) = CAST(:n AS integer)
       AND NOT EXISTS (SELECT FROM ledger WHERE entry_id = :payment_id)
       AND NOT EXISTS (SELECT FROM payments WHERE payment_id = :payment_id)
       AND NOT EXISTS (SELECT FROM payments WHERE token_id = :token_id) AS ok
), debited AS (
    UPDATE wallets SET balance = balance - (SELECT amount FROM due)
    WHERE user_id = :user_id AND balance >= (SELECT amount FROM due) AND (SELECT ok FROM fresh)
    RETURNING balance
), sold AS (
    UPDATE seats SET status = 'SOLD', held_until = NULL
    FROM held
    WHERE seats.concert_id = held.concert_id AND seats.date = held.date
      AND seats.seat_no = held.seat_no AND held.reservation_id IN :rids
      AND EXISTS (SELECT FROM debited)
    RETURNING held.*
), freed AS (
    UPDATE seats
    SET status = 'AVAILABLE', holder = NULL, held_until = NULL, reservation_id = NULL,
        token_id = NULL, held_at = NULL
    FROM held
    WHERE seats.concert_id = held.concert_id AND seats.date = held.date
      AND seats.seat_no = held.seat_no AND held.status = 'HELD'
      AND held.token_id = :token_id
      AND held.reservation_id NOT IN :rids
      AND EXISTS (SELECT FROM debited)
    RETURNING held.*
), recorded AS (
    INSERT INTO reservation_records
        (reservation_id, user_id, concert_id, date, seat_no, price, status,
         held_until, created_at, token_id)
    SELECT reservation_id, holder, concert_id, date, seat_no, price, 'CONFIRMED',
           held_until, held_at, token_id
    FROM sold
    UNION ALL
    SELECT reservation_id, holder, concert_id, date, seat_no, price, 'RELEASED',
           held_until, held_at, token_id
    FROM freed
), entered AS (
    INSERT INTO ledger (entry_id, user_id, kind, amount, at, payment_id)
    SELECT CAST(:payment_id AS uuid), CAST(:user_id AS uuid), 'PAYMENT',
           -(SELECT amount FROM due), CAST(:now AS timestamptz), CAST(:payment_id AS uuid)
    FROM debited
), paid AS (
    INSERT INTO payments
        (payment_id, user_id, concert_id, reservation_ids, amount, paid_at, token_id)
    SELECT CAST(:payment_id AS uuid), CAST(:user_id AS uuid), CAST(:concert_id AS bigint),
           CAST(:rids_json AS json), (SELECT amount FROM due), CAST(:now AS timestamptz),
           CAST(:token_id AS uuid)
    FROM debited
), forgotten AS (
    UPDATE fan_holds
    SET holds = holds - CAST(:rid_texts AS text[])
        - ARRAY(SELECT CAST(reservation_id AS text) FROM freed)
    WHERE user_id = :user_id AND concert_id = :concert_id AND EXISTS (SELECT FROM debited)
)
SELECT (SELECT amount FROM due) AS amount, (SELECT balance FROM debited) AS balance,
       (SELECT count(*) FROM sold) AS sold, (SELECT count(*) FROM freed) AS freed
"""
).bindparams(
    bindparam("now", type_=t.UtcDateTime()),
    bindparam("rids", expanding=True, type_=Uuid()),
)
"""A payment in one statement. Its seats, and the turn's other held seats, are locked
first, in key order (``held``); then, only if every reservation named is the fan's
live hold in the turn's concert, neither the payment nor its ledger entry exists yet
and the wallet covers the sum (``debited``, under the wallet's lock): the seats SOLD,
their reservations recorded CONFIRMED, the ledger entry, the payment, the turn's other
holds released and recorded, and the fan's hold-limit row cleared of them. Writes
nothing otherwise (``balance`` comes back NULL: the steps are then taken one by one to
say why). A payment or ledger entry committed by another transaction after this
statement's snapshot is a unique violation: the statement, and its transaction, abort."""

RELEASE_TOKEN_HOLDS = text(
    """
WITH held AS (
    SELECT concert_id, date, seat_no, price, holder, held_until, reservation_id, token_id,
           held_at
    FROM seats
    WHERE token_id = :token_id AND status = 'HELD'
    ORDER BY concert_id, date, seat_no
    FOR UPDATE
), freed AS (
    UPDATE seats
    SET status = 'AVAILABLE', holder = NULL, held_until = NULL, reservation_id = NULL,
        token_id = NULL, held_at = NULL
    FROM held
    WHERE seats.concert_id = held.concert_id AND seats.date = held.date
      AND seats.seat_no = held.seat_no
    RETURNING held.*
), recorded AS (
    INSERT INTO reservation_records
        (reservation_id, user_id, concert_id, date, seat_no, price, status,
         held_until, created_at, token_id)
    SELECT reservation_id, holder, concert_id, date, seat_no, price, 'RELEASED',
           held_until, held_at, token_id
    FROM freed
), forgotten AS (
    UPDATE fan_holds AS f
    SET holds = f.holds - ARRAY(
        SELECT CAST(freed.reservation_id AS text) FROM freed
        WHERE freed.holder = f.user_id AND freed.concert_id = f.concert_id
    )
    WHERE (f.user_id, f.concert_id) IN (SELECT holder, concert_id FROM freed)
)
SELECT count(*) AS released FROM freed
"""
)
"""The end of a turn's holds in one statement: the seats the token still holds (live
or lapsed) locked in key order, and only those still held by it once locked (a row
paid or released meanwhile is read again under its lock and left out), freed, their
reservations recorded RELEASED, and taken out of their fans' ``fan_holds`` rows."""
