"""The HTTP API's bodies: msgspec Structs, apart from the domain (docs/contract.md §4).

Replies are built from use-case results by the ``of`` constructors. Dates are
``YYYY-MM-DD``, datetimes ISO 8601 with a timezone, ids strings, money integer won.
Requests are decoded into these by ``entrypoints.http.decoding``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from concert_core.domain import DateAvailability, Payment
from concert_core.domain.values import MAX_CHARGE, MIN_CHARGE, SEATS_PER_DATE
from concert_core.use_cases import (
    Balance,
    ConcertListing,
    IssuedToken,
    PaymentReceipt,
    QueueView,
    ReservationView,
    SaleView,
    SeatMap,
)
from concert_core.use_cases.pay import MAX_RESERVATIONS_PER_PAYMENT
from entrypoints.http.fields import (
    PAYMENT_EXAMPLE,
    RESERVATION_EXAMPLE,
    TOKEN_EXAMPLE,
    ConcertIdField,
    DateField,
    MoneyField,
    OpensAtField,
    PhaseField,
    PriceField,
    ReservationIdField,
    ReservationStatusField,
    SalePhase,
    SeatNoField,
    SeatState,
    Timestamp,
    TokenState,
    TokenStatusField,
    UserIdField,
)

# --- requests ---------------------------------------------------------------------------


class IssueTokenRequest(Struct, kw_only=True):
    """Enter a concert's waiting room."""

    user_id: UserIdField
    concert_id: ConcertIdField
    proof: (
        Annotated[
            str,
            Meta(
                description=(
                    "A solved join challenge (GET /api/v1/queue/challenge): base64 of the "
                    "JSON {algorithm, challenge, number, salt, signature}. Needed when the "
                    "concert's sale asks for one and the user has no live token; else "
                    "ignored. Good once."
                ),
                examples=["eyJhbGdvcml0aG0iOiAiU0hBLTI1NiIsIC4uLn0="],
            ),
        ]
        | None
    ) = None


class HoldSeatRequest(Struct, kw_only=True):
    """Hold one seat of one performance."""

    concert_id: ConcertIdField
    date: DateField
    seat_no: SeatNoField


class PayRequest(Struct, kw_only=True):
    """Pay for one or more of the caller's held seats."""

    reservation_ids: Annotated[
        list[ReservationIdField],
        Meta(
            min_length=1,
            max_length=MAX_RESERVATIONS_PER_PAYMENT,
            description="The caller's live holds to pay for, each once.",
            examples=[[RESERVATION_EXAMPLE]],
        ),
    ]


class ChargeRequest(Struct, kw_only=True):
    """Top up a wallet."""

    amount: Annotated[
        int,
        Meta(
            ge=MIN_CHARGE,
            le=MAX_CHARGE,
            description="Won to add, 1 to 10,000,000.",
            examples=[200_000],
        ),
    ]


# --- replies ----------------------------------------------------------------------------


class SaleNoticeResponse(Struct, kw_only=True):
    """What every fan of a concert is told about its sale."""

    phase: PhaseField
    opens_at: OpensAtField
    message: Annotated[
        str | None,
        Meta(description="The operator's message to every fan; null when none.", examples=[None]),
    ]

    @classmethod
    def of(cls, sale: SaleView) -> SaleNoticeResponse:
        return cls(phase=sale.phase.value, opens_at=sale.opens_at, message=sale.message)


class QueueStatusResponse(Struct, kw_only=True):
    """A queue token's state, place in line and polling hint."""

    user_id: UserIdField
    concert_id: ConcertIdField
    status: TokenStatusField
    position: Annotated[
        int | None,
        Meta(
            description=(
                "1-based place among WAITING tokens; null unless WAITING, and during the "
                "pre-queue (the opening draws the order)."
            ),
            examples=[42],
        ),
    ]
    estimated_wait_seconds: Annotated[
        int | None,
        Meta(description="Expected seconds until admission; 0 when ACTIVE.", examples=[120]),
    ]
    poll_after_seconds: Annotated[
        int, Meta(ge=1, description="Poll again after this many seconds.", examples=[1])
    ]
    active_until: Annotated[
        dt.datetime | None,
        Meta(description="When an ACTIVE token's turn ends (ISO 8601); null otherwise."),
    ]
    sale: SaleNoticeResponse

    @classmethod
    def of(cls, view: QueueView) -> QueueStatusResponse:
        return cls(**_queue_fields(view))


class QueueTokenResponse(Struct, kw_only=True):
    """A queue token (a JWT to send as ``Authorization: Bearer``) and its state."""

    token: Annotated[str, Meta(description="The queue token (JWT).", examples=[TOKEN_EXAMPLE])]
    user_id: UserIdField
    concert_id: ConcertIdField
    status: TokenStatusField
    position: Annotated[int | None, Meta(examples=[42])]
    estimated_wait_seconds: Annotated[int | None, Meta(examples=[120])]
    poll_after_seconds: Annotated[int, Meta(ge=1, examples=[1])]
    active_until: dt.datetime | None
    sale: SaleNoticeResponse

    @classmethod
    def of(cls, issued: IssuedToken) -> QueueTokenResponse:
        return cls(token=issued.token, **_queue_fields(issued.view))


def _queue_fields(view: QueueView) -> dict[str, Any]:
    return {
        "user_id": view.user_id,
        "concert_id": view.concert_id,
        "status": view.status.value,
        "position": view.position,
        "estimated_wait_seconds": view.estimated_wait_seconds,
        "poll_after_seconds": view.poll_after_seconds,
        "active_until": view.active_until,
        "sale": SaleNoticeResponse.of(view.sale),
    }


class ConcertResponse(Struct, kw_only=True):
    concert_id: ConcertIdField
    title: Annotated[str, Meta(examples=["Winter Lights"])]
    venue: Annotated[str, Meta(examples=["Olympic Hall"])]
    phase: PhaseField
    opens_at: OpensAtField

    @classmethod
    def of(cls, listing: ConcertListing) -> ConcertResponse:
        return cls(
            concert_id=listing.concert_id,
            title=listing.title,
            venue=listing.venue,
            phase=listing.phase.value,
            opens_at=listing.opens_at,
        )


class DateResponse(Struct, kw_only=True):
    date: DateField
    available_seats: Annotated[int, Meta(ge=1, le=SEATS_PER_DATE, examples=[48])]

    @classmethod
    def of(cls, availability: DateAvailability) -> DateResponse:
        return cls(date=availability.date, available_seats=availability.available_seats)


class SeatResponse(Struct, kw_only=True):
    seat_no: SeatNoField
    status: Annotated[
        SeatState,
        Meta(description="A lapsed hold reads as AVAILABLE.", examples=["AVAILABLE"]),
    ]
    price: PriceField


class SeatMapResponse(Struct, kw_only=True):
    date: DateField
    seats: list[SeatResponse]

    @classmethod
    def of(cls, seat_map: SeatMap) -> SeatMapResponse:
        return cls(
            date=seat_map.date,
            seats=[
                SeatResponse(seat_no=seat_no, status=status.value, price=price)
                for seat_no, status, price in seat_map.seats
            ],
        )


class ReservationResponse(Struct, kw_only=True):
    reservation_id: ReservationIdField
    concert_id: ConcertIdField
    date: DateField
    seat_no: SeatNoField
    price: PriceField
    status: ReservationStatusField
    held_until: Annotated[
        dt.datetime | None,
        Meta(description="When an unpaid hold lapses (ISO 8601); null once paid or released."),
    ]

    @classmethod
    def of(cls, view: ReservationView) -> ReservationResponse:
        return cls(
            reservation_id=view.reservation_id,
            concert_id=view.concert_id,
            date=view.date,
            seat_no=view.seat_no,
            price=view.price,
            status=view.status.value,
            held_until=view.held_until,
        )


class PaymentResponse(Struct, kw_only=True):
    payment_id: Annotated[uuid.UUID, Meta(examples=[PAYMENT_EXAMPLE])]
    reservation_ids: list[ReservationIdField]
    amount: MoneyField
    balance: Annotated[int, Meta(ge=0, description="The wallet's balance after paying.")]
    paid_at: Timestamp

    @classmethod
    def of(cls, receipt: PaymentReceipt) -> PaymentResponse:
        return cls(
            payment_id=receipt.payment_id,
            reservation_ids=list(receipt.reservation_ids),
            amount=receipt.amount,
            balance=receipt.balance,
            paid_at=receipt.paid_at,
        )


class PaymentRecordResponse(Struct, kw_only=True):
    payment_id: Annotated[uuid.UUID, Meta(examples=[PAYMENT_EXAMPLE])]
    reservation_ids: list[ReservationIdField]
    amount: MoneyField
    paid_at: Timestamp

    @classmethod
    def of(cls, payment: Payment) -> PaymentRecordResponse:
        return cls(
            payment_id=payment.payment_id,
            reservation_ids=list(payment.reservation_ids),
            amount=payment.amount,
            paid_at=payment.paid_at,
        )


class BalanceResponse(Struct, kw_only=True):
    user_id: UserIdField
    balance: Annotated[int, Meta(ge=0, description="Won in the wallet.", examples=[200_000])]

    @classmethod
    def of(cls, balance: Balance) -> BalanceResponse:
        return cls(user_id=balance.user_id, balance=balance.balance)


HealthState = Literal["ok", "unavailable"]


class HealthResponse(Struct, kw_only=True):
    status: Annotated[HealthState, Meta(description="ok when every backend answers.")]
    database: HealthState
    queue: HealthState


class Problem(Struct, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem detail, with a stable machine-readable ``code``."""

    type: Annotated[str, Meta(examples=["urn:concert:problem:seat-unavailable"])]
    title: Annotated[str, Meta(examples=["Seat unavailable"])]
    status: Annotated[int, Meta(ge=400, le=599, examples=[409])]
    detail: Annotated[str, Meta(examples=["the seat is held by someone else"])]
    code: Annotated[str, Meta(examples=["SEAT_UNAVAILABLE"])]
    token_status: TokenState | UnsetType = UNSET
    """TOKEN_NOT_ACTIVE only: the token's state."""
    position: int | UnsetType | None = UNSET
    """TOKEN_NOT_ACTIVE only: the token's place in line while WAITING, else null."""
    opens_at: dt.datetime | UnsetType | None = UNSET
    """SALE_NOT_OPEN only: when the sale opens."""
    prequeue_opens_at: dt.datetime | UnsetType | None = UNSET
    """SALE_NOT_OPEN only: when fans may start to join; null without a pre-queue."""
    phase: SalePhase | UnsetType = UNSET
    """SALE_CLOSED only: SOLD_OUT or CLOSED."""
