"""``concert wallet``: top up a user's wallet, or show its balance and payments."""

from __future__ import annotations

from typing import Annotated

import typer

from concert_core import ConcertService
from concert_core.use_cases import ChargeCommand
from entrypoints.cli.arguments import whole_number
from entrypoints.cli.running import out, reading_arguments, with_service

wallet_app = typer.Typer(help="Users' wallets.", no_args_is_help=True)


@wallet_app.command("charge")
def wallet_charge(
    user: Annotated[str, typer.Argument(help="The user's UUID.")],
    amount: Annotated[str, typer.Argument(help="Won, 1 to 10000000, in digits only.")],
) -> None:
    """Top up a user's wallet. The amount is digits only: a typo such as 1,0,0 or 1_000
    is refused, never read as money."""
    with reading_arguments():
        won = whole_number(amount, "amount")

    async def work(service: ConcertService) -> None:
        balance = await service.charge_wallet(ChargeCommand(user, won))
        out.print(f"{balance.user_id} balance {balance.balance:,} won")

    with_service(work)


@wallet_app.command("show")
def wallet_show(user: Annotated[str, typer.Argument(help="The user's UUID.")]) -> None:
    """A user's balance and payments."""

    async def work(service: ConcertService) -> None:
        balance = await service.get_balance(user)
        payments = await service.payment_history(user)
        out.print(f"{balance.user_id} balance {balance.balance:,} won")
        for payment in payments:
            seats = len(payment.reservation_ids)
            out.print(
                f"  {payment.paid_at:%Y-%m-%d %H:%M:%S} paid {payment.amount:,} won "
                f"for {seats} seat{'s' * (seats != 1)} ({payment.payment_id})"
            )

    with_service(work)
