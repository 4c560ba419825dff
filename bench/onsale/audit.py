"""The audit after an on-sale: the database's own account of what was sold, paid and
debited, and the verdicts drawn from it (no seat sold twice, money conserved, every
buyer debited once)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg  # type: ignore[import-untyped]

AUDIT_SQL = {
    "sold": "SELECT count(*) FROM seats WHERE status = 'SOLD'",
    "held": "SELECT count(*) FROM seats WHERE status = 'HELD'",
    "confirmed": "SELECT count(*) FROM reservations WHERE status = 'CONFIRMED'",
    "double_sold": """
        SELECT count(*) FROM (
            SELECT 1 FROM reservations WHERE status = 'CONFIRMED'
            GROUP BY concert_id, date, seat_no HAVING count(*) > 1
        ) AS twice""",
    "sold_without_one_confirmed": """
        SELECT count(*) FROM seats s
        WHERE s.status = 'SOLD' AND (
            SELECT count(*) FROM reservations r
            WHERE r.concert_id = s.concert_id AND r.date = s.date AND r.seat_no = s.seat_no
              AND r.status = 'CONFIRMED'
        ) <> 1""",
    "charged": "SELECT coalesce(sum(amount), 0) FROM ledger WHERE amount > 0",
    "debited": "SELECT coalesce(-sum(amount), 0) FROM ledger WHERE amount < 0",
    "balances": "SELECT coalesce(sum(balance), 0) FROM wallets",
    "paid": "SELECT coalesce(sum(amount), 0) FROM payments",
    "sold_seat_prices": "SELECT coalesce(sum(price), 0) FROM seats WHERE status = 'SOLD'",
    "wallets_off_ledger": """
        SELECT count(*) FROM wallets w
        LEFT JOIN (SELECT user_id, sum(amount) AS total FROM ledger GROUP BY user_id) l
          ON l.user_id = w.user_id
        WHERE w.balance <> coalesce(l.total, 0)""",
    "payments": "SELECT count(*) FROM payments",
    "payers": "SELECT count(DISTINCT user_id) FROM payments",
    "payers_debited_not_once": """
        SELECT count(*) FROM (
            SELECT p.user_id FROM (SELECT DISTINCT user_id FROM payments) p
            LEFT JOIN ledger l ON l.user_id = p.user_id AND l.kind = 'PAYMENT'
            GROUP BY p.user_id HAVING count(l.serial) <> 1
        ) AS odd""",
    "debits_without_payment": """
        SELECT count(*) FROM ledger l
        WHERE l.kind = 'PAYMENT'
          AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.payment_id = l.payment_id)""",
}


async def audit(dsn: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        values = {name: await conn.fetchval(sql) for name, sql in AUDIT_SQL.items()}
    finally:
        await conn.close()
    # sum() is numeric in PostgreSQL: money is a whole number of won.
    return {name: int(v) if isinstance(v, Decimal) else v for name, v in values.items()}


def verdicts(counts: dict[str, Any]) -> dict[str, Any]:
    """What the report states from the counts and sums ``audit`` found."""
    sold = counts["sold"]
    return {
        "sold": sold,
        "double_sold": counts["double_sold"],
        "money_conserved": (
            counts["charged"] == counts["balances"] + counts["paid"]
            and counts["debited"] == counts["paid"]
            and counts["paid"] == counts["sold_seat_prices"]
            and counts["wallets_off_ledger"] == 0
        ),
        "every_buyer_debited_once": (
            counts["payments"] == sold
            and counts["payers"] == counts["payments"]
            and counts["payers_debited_not_once"] == 0
            and counts["debits_without_payment"] == 0
            and counts["confirmed"] == sold
            and counts["sold_without_one_confirmed"] == 0
        ),
    }
