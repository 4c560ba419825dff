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
    Balance,
    ChargeCommand,
    ChargeWallet,
    ExpireLapsed,
    GetBalance,
    GetReservation,
    HoldSeat,
    Idempotent,
    IssueToken,
    KnownConcerts,
    LeaveQueue,
    ListConcerts,
    ListDates,
    ListSeats,
    Pay,
    PayCommand,
    PaymentHistory,
    PaymentReceipt,
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
    charge_wallet: Idempotent[ChargeCommand, Balance]
    get_balance: GetBalance
    pay: Idempotent[PayCommand, PaymentReceipt]
    payment_history: PaymentHistory

    @classmethod
    def build(
        cls,
        *,
        uow_factory: UnitOfWorkFactory,
        queue: QueueStore,
        idempotency: IdempotencyStore,
        codec: TokenCodec,
        clock: Clock,
        policy: Policy,
    ) -> ConcertService:
        gate = TokenGate(codec, queue)
        return cls(
            policy=policy,
            schedule_concert=ScheduleConcert(uow_factory),
            issue_token=IssueToken(KnownConcerts(uow_factory), queue, codec, clock, policy),
            queue_status=QueueStatus(gate, clock, policy),
            queue_overview=QueueOverview(queue, uow_factory, clock),
            leave_queue=LeaveQueue(gate, queue, uow_factory, clock),
            admit_waiting=AdmitWaiting(queue, uow_factory, clock),
            expire_lapsed=ExpireLapsed(queue, uow_factory, clock),
            list_concerts=ListConcerts(uow_factory),
            list_dates=ListDates(gate, uow_factory, clock),
            list_seats=ListSeats(gate, uow_factory, clock),
            hold_seat=HoldSeat(gate, queue, uow_factory, clock, policy),
            get_reservation=GetReservation(gate, uow_factory, clock),
            release_hold=ReleaseHold(gate, uow_factory, clock),
            charge_wallet=Idempotent(ChargeWallet(uow_factory), idempotency, clock),
            get_balance=GetBalance(uow_factory),
            pay=Idempotent(Pay(gate, queue, uow_factory), idempotency, clock),
            payment_history=PaymentHistory(uow_factory),
        )
