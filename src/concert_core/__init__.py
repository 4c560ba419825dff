"""Concert reservations with a virtual waiting room: the domain and its use cases.

Pure Python: imports only the standard library and attrs. Storage, queue, clock and
token signing come in through the Protocols of ``concert_core.ports``.
"""

from concert_core.policy import Policy
from concert_core.service import ConcertService

__all__ = ["ConcertService", "Policy"]
