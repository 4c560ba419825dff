"""The join challenge as the API answers it (``GET /queue/challenge``)."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from concert_core.ports import JoinChallenge


class JoinChallengeResponse(Struct, kw_only=True):
    """A join challenge in the ALTCHA format (docs/contract.md §9)."""

    algorithm: Annotated[Literal["SHA-256"], Meta(description="The hash: always SHA-256.")]
    challenge: Annotated[
        str, Meta(description="The hex SHA-256 of salt + str(number) for the number sought.")
    ]
    salt: Annotated[
        str,
        Meta(
            description=(
                "Hashed as it is, number appended; carries the concert and the expiry "
                "(unix seconds): <hex>?expires=<t>&concert=<id>&"
            )
        ),
    ]
    signature: Annotated[str, Meta(description="The service's HMAC of the challenge.")]
    maxnumber: Annotated[
        int, Meta(ge=1, description="The number sought is from 0 to this, inclusive.")
    ]

    @classmethod
    def of(cls, made: JoinChallenge) -> JoinChallengeResponse:
        return cls(
            algorithm="SHA-256",
            challenge=made.challenge,
            salt=made.salt,
            signature=made.signature,
            maxnumber=made.maxnumber,
        )
