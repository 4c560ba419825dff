"""One controller per resource of the REST API (docs/contract.md §4), and the
operator's (§8)."""

from entrypoints.http.controllers.admin_concerts import AdminConcertController
from entrypoints.http.controllers.concerts import ConcertController
from entrypoints.http.controllers.ops import OpsController
from entrypoints.http.controllers.payments import PaymentController
from entrypoints.http.controllers.queue import QueueController
from entrypoints.http.controllers.reservations import ReservationController
from entrypoints.http.controllers.users import UserController

__all__ = [
    "AdminConcertController",
    "ConcertController",
    "OpsController",
    "PaymentController",
    "QueueController",
    "ReservationController",
    "UserController",
]
