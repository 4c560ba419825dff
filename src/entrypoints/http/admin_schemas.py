"""The operator's bodies (docs/contract.md §8): new concerts and dates, sale settings,
and the concert view every admin route answers with.

Requests are strict: an unknown field is refused (a typo in a setting must not pass for
"left as it was"), times are RFC 3339 with an offset. A sale setting left out of a
request is ``UNSET``: on a new concert it takes its default, on a change it keeps its
value; ``null`` clears it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from msgspec import UNSET, Meta, Struct, UnsetType

from concert_core.domain import ValidationError
from concert_core.domain.sale import MAX_ADMISSIONS_PER_MINUTE, MAX_CAPACITY, MAX_MESSAGE_LENGTH
from concert_core.domain.values import SEATS_PER_DATE
from concert_core.use_cases import ConcertReport
from concert_core.use_cases.add_concert import MAX_DATES_PER_CONCERT
from entrypoints.http.fields import (
    ConcertIdField,
    DateField,
    MoneyField,
    PhaseField,
    PriceField,
)

_TIME_EXAMPLE = "2026-12-01T10:00:00+09:00"
PrequeueOpensAtField = Annotated[
    dt.datetime,
    Meta(
        tz=True,
        description=(
            "When fans may start to join (RFC 3339 with an offset); not after opens_at. "
            "null: no pre-queue."
        ),
        examples=["2026-12-01T09:50:00+09:00"],
    ),
]
OpensAtInput = Annotated[
    dt.datetime,
    Meta(
        tz=True,
        description=(
            "When the line opens and admission starts (RFC 3339 with an offset); null: at once."
        ),
        examples=[_TIME_EXAMPLE],
    ),
]
ClosesAtField = Annotated[
    dt.datetime,
    Meta(
        tz=True,
        description="When the sale ends (RFC 3339 with an offset); null: never.",
        examples=["2026-12-01T22:00:00+09:00"],
    ),
]
TitleField = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=200,
        description="One line of text: no control characters.",
        examples=["Winter Lights"],
    ),
]
VenueField = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=200,
        description="One line of text: no control characters.",
        examples=["Olympic Hall"],
    ),
]
PricesField = Annotated[
    list[PriceField],
    Meta(
        min_length=SEATS_PER_DATE,
        max_length=SEATS_PER_DATE,
        description="The 50 seats' prices in won, seat 1 first.",
    ),
]
PausedField = Annotated[
    bool, Meta(description="true: nobody is admitted (joining goes on).", examples=[False])
]
CapacityField = Annotated[
    int,
    Meta(
        ge=1,
        le=MAX_CAPACITY,
        description="ACTIVE fans at most; null: the service's CONCERT_ACTIVE_CAPACITY.",
        examples=[100],
    ),
]
RateField = Annotated[
    int,
    Meta(
        ge=1,
        le=MAX_ADMISSIONS_PER_MINUTE,
        description="Fans admitted in any 60 seconds, at most; null: no bound but capacity.",
        examples=[600],
    ),
]
ChallengeField = Annotated[
    bool, Meta(description="true: joining needs the join challenge.", examples=[False])
]
MessageField = Annotated[
    str,
    Meta(
        max_length=MAX_MESSAGE_LENGTH,
        description="Shown to every fan of the concert; null: none.",
        examples=["Doors open at 18:00."],
    ),
]


class SaleSettingsRequest(Struct, kw_only=True, forbid_unknown_fields=True):
    """Any subset of a concert's sale settings."""

    prequeue_opens_at: PrequeueOpensAtField | UnsetType | None = UNSET
    opens_at: OpensAtInput | UnsetType | None = UNSET
    closes_at: ClosesAtField | UnsetType | None = UNSET
    paused: PausedField | UnsetType = UNSET
    capacity: CapacityField | UnsetType | None = UNSET
    admission_per_minute: RateField | UnsetType | None = UNSET
    join_challenge: ChallengeField | UnsetType = UNSET
    message: MessageField | UnsetType | None = UNSET

    def checked(self) -> SaleSettingsRequest:
        """The request, its message checked beyond what the schema says."""
        if isinstance(self.message, str) and "\x00" in self.message:
            raise ValidationError("message must not contain NUL characters")
        return self

    def changes(self) -> dict[str, object]:
        """The settings the request names, with their new values."""
        return {
            name: getattr(self, name)
            for name in self.__struct_fields__
            if getattr(self, name) is not UNSET
        }


class NewConcertRequest(Struct, kw_only=True, forbid_unknown_fields=True):
    """A concert, its dates and its sale: ``price`` (a base price, seats tiered around
    it) or ``prices`` (the 50 seats' own)."""

    title: TitleField
    venue: VenueField
    dates: Annotated[
        list[DateField],
        Meta(
            min_length=1,
            max_length=MAX_DATES_PER_CONCERT,
            description="Performance dates, YYYY-MM-DD: not before today, no repeats.",
        ),
    ]
    price: PriceField | UnsetType = UNSET
    prices: PricesField | UnsetType = UNSET
    sale: SaleSettingsRequest | UnsetType = UNSET
    """Left out, or a setting left out: its default (on sale at once, FIFO, no limits)."""

    def sale_changes(self) -> dict[str, object]:
        """The sale settings given, over the defaults."""
        return {} if isinstance(self.sale, UnsetType) else self.sale.changes()

    def checked(self) -> NewConcertRequest:
        """The request, its text fields checked beyond what the schema says."""
        one_line("title", self.title)
        one_line("venue", self.venue)
        if not isinstance(self.sale, UnsetType):
            self.sale.checked()
        return self


class NewDateRequest(Struct, kw_only=True, forbid_unknown_fields=True):
    """One more performance date: ``price`` (a base price, seats tiered around it) or
    ``prices`` (the 50 seats' own)."""

    date: DateField
    price: PriceField | UnsetType = UNSET
    prices: PricesField | UnsetType = UNSET


def one_line(name: str, text: str) -> str:
    """``text``, refused unless it is one line with no control characters."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValidationError(f"{name} must be one line of text, without control characters")
    return text


def given(value: Any) -> Any:
    """``value``, or None when the request left it out."""
    return None if value is UNSET else value


# --- the concert view ---------------------------------------------------------------------


SeatCount = Annotated[int, Meta(ge=0, le=SEATS_PER_DATE)]


class DateSeatsResponse(Struct, kw_only=True):
    date: DateField
    available: SeatCount
    held: SeatCount
    sold: SeatCount


class SaleSettingsResponse(Struct, kw_only=True):
    phase: PhaseField
    prequeue_opens_at: dt.datetime | None
    opens_at: dt.datetime | None
    closes_at: dt.datetime | None
    paused: bool
    capacity: Annotated[
        int, Meta(ge=1, description="ACTIVE fans at most (the service default when not set).")
    ]
    admission_per_minute: int | None
    join_challenge: bool
    message: str | None
    shuffle_seed: Annotated[
        int | None,
        Meta(description="The seed the pre-queue was shuffled with at the opening; null before."),
    ]


class QueueCountsResponse(Struct, kw_only=True):
    waiting: Annotated[int, Meta(ge=0)]
    active: Annotated[int, Meta(ge=0)]
    admitted_last_minute: Annotated[int, Meta(ge=0, description="Admissions in the last 60 s.")]


class ConcertViewResponse(Struct, kw_only=True):
    """A concert as its operator watches it: seats per date, the sale, the line, the
    money taken."""

    concert_id: ConcertIdField
    title: str
    venue: str
    dates: list[DateSeatsResponse]
    sale: SaleSettingsResponse
    queue: QueueCountsResponse
    revenue: Annotated[MoneyField, Meta(description="Won paid for the concert's seats.")]

    @classmethod
    def of(cls, report: ConcertReport) -> ConcertViewResponse:
        concert, settings = report.concert, report.concert.sale
        return cls(
            concert_id=concert.concert_id,
            title=concert.title,
            venue=concert.venue,
            dates=[
                DateSeatsResponse(date=d.date, available=d.available, held=d.held, sold=d.sold)
                for d in report.dates
            ],
            sale=SaleSettingsResponse(
                phase=report.phase.value,
                prequeue_opens_at=settings.prequeue_opens_at,
                opens_at=settings.opens_at,
                closes_at=settings.closes_at,
                paused=settings.paused,
                capacity=report.capacity,
                admission_per_minute=settings.admission_per_minute,
                join_challenge=settings.join_challenge,
                message=settings.message,
                shuffle_seed=report.queue.shuffle_seed,
            ),
            queue=QueueCountsResponse(
                waiting=report.queue.waiting,
                active=report.queue.active,
                admitted_last_minute=report.queue.admitted_last_minute,
            ),
            revenue=report.revenue,
        )
