"""The use cases: one class each, ports in ``__init__``, ``async __call__``."""

from concert_core.use_cases._box_office import UnitOfWorkBoxOffice
from concert_core.use_cases._gate import TokenGate
from concert_core.use_cases._idempotency import Idempotent
from concert_core.use_cases._sales import LineOpenings, SaleBook, SaleState
from concert_core.use_cases._views import QueueView, ReservationView, SaleView
from concert_core.use_cases.add_concert import AddConcert, AddConcertCommand, prices_of
from concert_core.use_cases.add_concert_date import AddConcertDate, AddConcertDateCommand
from concert_core.use_cases.admit_waiting import Admission, AdmitWaiting
from concert_core.use_cases.change_sale import ChangeSale, ChangeSaleCommand
from concert_core.use_cases.charge_wallet import Balance, ChargeCommand, ChargeWallet
from concert_core.use_cases.concert_report import ConcertReport, ReportConcerts
from concert_core.use_cases.expire_lapsed import ExpireLapsed, ExpiryReport
from concert_core.use_cases.get_balance import GetBalance
from concert_core.use_cases.get_reservation import GetReservation
from concert_core.use_cases.hold_seat import HoldResult, HoldSeat, HoldSeatCommand
from concert_core.use_cases.issue_token import IssuedToken, IssueToken, IssueTokenCommand
from concert_core.use_cases.leave_queue import LeaveQueue
from concert_core.use_cases.list_concerts import ConcertListing, ListConcerts
from concert_core.use_cases.list_dates import ListDates, ListDatesQuery
from concert_core.use_cases.list_seats import (
    ListSeats,
    ListSeatsQuery,
    SeatMap,
    SeatView,
    UnitOfWorkSeatMaps,
)
from concert_core.use_cases.new_join_challenge import NewJoinChallenge
from concert_core.use_cases.pay import Pay, PayCommand, PaymentReceipt
from concert_core.use_cases.payment_history import PaymentHistory
from concert_core.use_cases.queue_overview import QueueOverview
from concert_core.use_cases.queue_status import QueueStatus
from concert_core.use_cases.release_hold import ReleaseHold
from concert_core.use_cases.schedule_concert import (
    ScheduleConcert,
    ScheduleConcertCommand,
    tiered_prices,
)

__all__ = [
    "AddConcert",
    "AddConcertCommand",
    "AddConcertDate",
    "AddConcertDateCommand",
    "Admission",
    "AdmitWaiting",
    "Balance",
    "ChangeSale",
    "ChangeSaleCommand",
    "ChargeCommand",
    "ChargeWallet",
    "ConcertListing",
    "ConcertReport",
    "ExpireLapsed",
    "ExpiryReport",
    "GetBalance",
    "GetReservation",
    "HoldResult",
    "HoldSeat",
    "HoldSeatCommand",
    "Idempotent",
    "IssueToken",
    "IssueTokenCommand",
    "IssuedToken",
    "LeaveQueue",
    "LineOpenings",
    "ListConcerts",
    "ListDates",
    "ListDatesQuery",
    "ListSeats",
    "ListSeatsQuery",
    "NewJoinChallenge",
    "Pay",
    "PayCommand",
    "PaymentHistory",
    "PaymentReceipt",
    "QueueOverview",
    "QueueStatus",
    "QueueView",
    "ReleaseHold",
    "ReportConcerts",
    "ReservationView",
    "SaleBook",
    "SaleState",
    "SaleView",
    "ScheduleConcert",
    "ScheduleConcertCommand",
    "SeatMap",
    "SeatView",
    "TokenGate",
    "UnitOfWorkBoxOffice",
    "UnitOfWorkSeatMaps",
    "prices_of",
    "tiered_prices",
]
