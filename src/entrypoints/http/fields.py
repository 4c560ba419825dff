"""The fields the HTTP API's bodies are made of: their types, limits, descriptions and
examples, shared by the fans' schemas (``schemas``) and the operator's
(``admin_schemas``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from msgspec import Meta

from concert_core.domain.values import MAX_PRICE, SEATS_PER_DATE

MAX_CONCERT_ID = 2**63 - 1
"""The largest concert id the API takes (a signed 64-bit integer)."""

USER_EXAMPLE = "3f2b8a4e-6f1d-4c2e-9a57-0b8c1d2e3f40"
RESERVATION_EXAMPLE = "9b1de2a0-5c6f-4f0e-8a3b-7d2c1e0f9a18"
PAYMENT_EXAMPLE = "c5a7e3d1-2b4f-4e6a-9c8d-1f0e2d3c4b5a"
TOKEN_EXAMPLE = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIzZjJi...In0.c2lnbmF0dXJl"

UserIdField = Annotated[uuid.UUID, Meta(description="The user's UUID.", examples=[USER_EXAMPLE])]
ConcertIdField = Annotated[
    int, Meta(ge=1, le=MAX_CONCERT_ID, description="The concert's id.", examples=[1])
]
DateField = Annotated[
    dt.date, Meta(description="A performance date, YYYY-MM-DD.", examples=["2026-12-24"])
]
SeatNoField = Annotated[
    int,
    Meta(ge=1, le=SEATS_PER_DATE, description="Seat number, 1 to 50.", examples=[7]),
]
PriceField = Annotated[
    int, Meta(ge=0, le=MAX_PRICE, description="Price in won (integer).", examples=[150_000])
]
MoneyField = Annotated[int, Meta(ge=0, description="An amount in won (integer).")]
ReservationIdField = Annotated[
    uuid.UUID, Meta(description="A reservation's UUID.", examples=[RESERVATION_EXAMPLE])
]
TokenState = Literal["WAITING", "ACTIVE", "EXPIRED"]
SeatState = Literal["AVAILABLE", "HELD", "SOLD"]
ReservationState = Literal["HELD", "CONFIRMED", "RELEASED"]

TokenStatusField = Annotated[
    TokenState,
    Meta(description="The queue token's state.", examples=["WAITING"]),
]
ReservationStatusField = Annotated[
    ReservationState,
    Meta(description="The reservation's state.", examples=["HELD"]),
]
Timestamp = Annotated[
    dt.datetime, Meta(description="ISO 8601 with timezone.", examples=["2026-12-01T12:05:00Z"])
]
SalePhase = Literal["SCHEDULED", "PREQUEUE", "OPEN", "PAUSED", "SOLD_OUT", "CLOSED"]
PhaseField = Annotated[
    SalePhase,
    Meta(
        description=(
            "The sale's phase now: SCHEDULED (nobody may join yet), PREQUEUE (join; the "
            "order is drawn at the opening), OPEN, PAUSED (join; nobody admitted), "
            "SOLD_OUT or CLOSED (nobody may join)."
        ),
        examples=["OPEN"],
    ),
]
OpensAtField = Annotated[
    dt.datetime | None,
    Meta(description="When the sale opens (ISO 8601); null: it opened when it was set up."),
]
