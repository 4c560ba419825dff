"""Every use case wired to one set of ports: the library's front door."""

from __future__ import annotations

from attrs import frozen

from concert_core.policy import Policy
from concert_core.ports import (
    Clock,
    IdempotencyStore,
    QueueStore,
    TokenCodec,
    UnitOfWorkFactory,
)
from concert_core.use_cases import (
    AdmitWaiting,
    ChargeWallet,
    ExpireLapsed,
    GetBalance,
    GetReservation,
    HoldSeat,
    IssueToken,
    LeaveQueue,
    ListConcerts,
    ListDates,
    ListSeats,
    Pay,
    PaymentHistory,
    QueueOverview,
    QueueStatus,
    ReleaseHold,
    ScheduleConcert,
    TokenGate,
)


@frozen
class ConcertService:
    policy: Policy
    schedule_concert: ScheduleConcert
    issue_token: IssueToken
    queue_status: QueueStatus
    queue_overview: QueueOverview
    leave_queue: LeaveQueue
    admit_waiting: AdmitWaiting
    expire_lapsed: ExpireLapsed
    list_concerts: ListConcerts
    list_dates: ListDates
    list_seats: ListSeats
    hold_seat: HoldSeat
    get_reservation: GetReservation
    release_hold: ReleaseHold
    charge_wallet: ChargeWallet
    get_balance: GetBalance
    pay: Pay
    payment_history: PaymentHistory

    @classmethod
    def build(
        cls,
        *,
        uow: UnitOfWorkFactory,
        queue: QueueStore,
        idempotency: IdempotencyStore,
        codec: TokenCodec,
        clock: Clock,
        policy: Policy,
    ) -> ConcertService:
        gate = TokenGate(codec, queue)
        return cls(
            policy=policy,
            schedule_concert=ScheduleConcert(uow),
            issue_token=IssueToken(uow, queue, codec, clock, policy),
            queue_status=QueueStatus(gate, clock, policy),
            queue_overview=QueueOverview(queue, uow, clock),
            leave_queue=LeaveQueue(gate, queue, uow, clock),
            admit_waiting=AdmitWaiting(queue, uow, clock),
            expire_lapsed=ExpireLapsed(queue, uow, clock),
            list_concerts=ListConcerts(uow),
            list_dates=ListDates(gate, uow, clock),
            list_seats=ListSeats(gate, uow, clock),
            hold_seat=HoldSeat(gate, queue, uow, clock, policy),
            get_reservation=GetReservation(gate, uow, clock),
            release_hold=ReleaseHold(gate, uow, clock),
            charge_wallet=ChargeWallet(uow, idempotency, clock),
            get_balance=GetBalance(uow),
            pay=Pay(gate, queue, uow, idempotency, clock),
            payment_history=PaymentHistory(uow),
        )
