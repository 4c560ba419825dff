"""Every use case wired to one set of ports: the library's front door."""

from __future__ import annotations

from attrs import frozen

from concert_core.policy import Policy
from concert_core.ports import (
    BoxOffice,
    Clock,
    IdempotencyStore,
    JoinChallenges,
    ProofSpendingQueue,
    QueueStore,
    SeatMapReader,
    TokenCodec,
    UnitOfWorkFactory,
)
from concert_core.use_cases import (
    AddConcert,
    AddConcertDate,
    AdmitWaiting,
    Balance,
    ChangeSale,
    ChargeCommand,
    ChargeWallet,
    ExpireLapsed,
    GetBalance,
    GetReservation,
    HoldSeat,
    Idempotent,
    IssueToken,
    LeaveQueue,
    ListConcerts,
    ListDates,
    ListSeats,
    NewJoinChallenge,
    Pay,
    PayCommand,
    PaymentHistory,
    PaymentReceipt,
    QueueOverview,
    QueueStatus,
    ReleaseHold,
    ReportConcerts,
    ScheduleConcert,
    TokenGate,
    UnitOfWorkBoxOffice,
    UnitOfWorkSeatMaps,
)
from concert_core.use_cases._sales import LineOpenings, SaleBook


@frozen
class ConcertService:
    policy: Policy
    schedule_concert: ScheduleConcert
    add_concert: AddConcert
    add_concert_date: AddConcertDate
    change_sale: ChangeSale
    report_concerts: ReportConcerts
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
    new_join_challenge: NewJoinChallenge

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
        challenges: JoinChallenges | None = None,
        proof_queue: ProofSpendingQueue | None = None,
        seat_maps: SeatMapReader | None = None,
        box_office: BoxOffice | None = None,
    ) -> ConcertService:
        """``challenges`` None: no join challenge is issued or redeemed, so a concert
        whose sale asks for one takes re-joins only (docs/contract.md §9).
        ``proof_queue``: ``queue`` itself, when it spends the proofs ``challenges``
        verify as it issues a token (a join with a proof is then one storage step).
        ``seat_maps`` None: the seat list reads through a unit of work.
        ``box_office`` None: holds and payments are units of work of one call each."""
        gate = TokenGate(codec, queue)
        desk = box_office or UnitOfWorkBoxOffice(uow_factory)
        sales = SaleBook(uow_factory, policy)
        openings = LineOpenings(queue)
        return cls(
            policy=policy,
            schedule_concert=ScheduleConcert(uow_factory),
            add_concert=AddConcert(uow_factory, clock),
            add_concert_date=AddConcertDate(uow_factory, sales, clock),
            change_sale=ChangeSale(uow_factory, queue, sales, clock),
            report_concerts=ReportConcerts(uow_factory, queue, sales, clock, policy),
            issue_token=IssueToken(
                sales, openings, queue, codec, clock, policy, challenges, proof_queue
            ),
            queue_status=QueueStatus(gate, sales, openings, queue, clock, policy),
            queue_overview=QueueOverview(queue, uow_factory, clock),
            leave_queue=LeaveQueue(gate, queue, uow_factory, clock),
            admit_waiting=AdmitWaiting(queue, sales, openings, uow_factory, clock, policy),
            expire_lapsed=ExpireLapsed(queue, uow_factory, clock),
            list_concerts=ListConcerts(uow_factory, sales, clock),
            list_dates=ListDates(gate, uow_factory, clock),
            list_seats=ListSeats(gate, seat_maps or UnitOfWorkSeatMaps(uow_factory), clock),
            hold_seat=HoldSeat(gate, queue, uow_factory, clock, policy, desk),
            get_reservation=GetReservation(gate, uow_factory, clock),
            release_hold=ReleaseHold(gate, queue, uow_factory, clock),
            charge_wallet=Idempotent(ChargeWallet(uow_factory), idempotency, clock),
            get_balance=GetBalance(uow_factory),
            pay=Idempotent(Pay(gate, queue, uow_factory, desk), idempotency, clock),
            payment_history=PaymentHistory(uow_factory),
            new_join_challenge=NewJoinChallenge(sales, challenges, clock),
        )
