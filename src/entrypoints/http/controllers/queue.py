"""The waiting room: queue tokens and their status.

In the served app the poll and the join are answered in front of the router by
``entrypoints.http.hot_routes`` (decision 26), with the same use cases, checks and
replies; the handlers here document both routes and answer whatever that path hands on.
A change to either must be made in both (``tests/e2e/test_hot_routes.py`` compares them).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from concert_core import ConcertService
from concert_core.domain import TokenStatus
from concert_core.use_cases import IssueTokenCommand, LeaveQueue, NewJoinChallenge
from entrypoints.http.challenge_schema import JoinChallengeResponse
from entrypoints.http.client_address import scope_address
from entrypoints.http.controllers.parameters import (
    RETRY_AFTER_WHILE_WAITING,
    SECURED,
    ConcertIdQuery,
)
from entrypoints.http.decoding import bearer_token, parse_concert_id, strict_body
from entrypoints.http.errors import problem_responses
from entrypoints.http.identity import ACTS_FOR_FAN, IDENTIFIED, require_owner, verified_user
from entrypoints.http.metrics import app_metrics
from entrypoints.http.rate_limit import LIMITS_STATE
from entrypoints.http.schemas import (
    IssueTokenRequest,
    QueueStatusResponse,
    QueueTokenResponse,
)
from entrypoints.rate_limits import ClientLimits


def _service(request: Request[Any, Any, Any]) -> ConcertService:
    """The service the lifespan put on the app's state.

    The poll and the join, the two calls a stampede makes, read it there instead of
    having Litestar inject their use case: resolving a handler's dependencies was a
    tenth of a join's CPU (several of them are resolved concurrently, in an anyio task
    group of their own), more than the rate limiter's check (decision 21)."""
    service: ConcertService = request.app.state.service
    return service


def _retry_after(status: str, poll_after_seconds: int) -> dict[str, str]:
    """The reply sets ``Retry-After`` while the token is WAITING (docs/contract.md §4)."""
    if status == TokenStatus.WAITING:
        return {"Retry-After": str(poll_after_seconds)}
    return {}


class QueueController(Controller):
    path = "/queue"
    tags = ("queue",)

    @post(
        "/tokens",
        summary="Enter the waiting room",
        description=(
            "Issues a WAITING queue token for the concert: 201. A user whose token for "
            "the concert is WAITING or ACTIVE gets that same token and place back: 200. "
            "During the pre-queue the token has no position yet: the opening draws the "
            "order. Before the pre-queue (or the opening) it is 409 SALE_NOT_OPEN; once "
            "the sale is sold out or closed, 410 SALE_CLOSED. More joins from one client "
            "address (or one verified fan) than the rate limit allows in any 60 seconds: "
            "429 RATE_LIMITED with Retry-After. When the service verifies identity, the "
            "identity provider's token is sent as `Authorization: Bearer`, and `user_id` "
            "must be the one it names. When the concert's sale asks for a join "
            "challenge, a user without a live token sends a solved one as `proof` (see "
            "GET /api/v1/queue/challenge), else 403 CHALLENGE_FAILED."
        ),
        status_code=HTTP_201_CREATED,
        response_headers=[RETRY_AFTER_WHILE_WAITING],
        responses={
            HTTP_200_OK: ResponseSpec(
                QueueTokenResponse, description="The user's live token, place unchanged."
            ),
            **problem_responses(
                401,
                403,
                404,
                409,
                410,
                429,
                body=True,
                examples={
                    **IDENTIFIED,
                    403: "CHALLENGE_FAILED",
                    409: "SALE_NOT_OPEN",
                    410: "SALE_CLOSED",
                },
            ),
        },
        opt=ACTS_FOR_FAN,
    )
    async def issue(
        self, request: Request[Any, Any, Any], data: JSONBody[IssueTokenRequest]
    ) -> Response[QueueTokenResponse]:
        body = await strict_body(request, data)
        await require_owner(request, body.user_id)
        state = request.app.state  # no injected dependencies: see _service
        limits: ClientLimits = state[LIMITS_STATE]
        service: ConcertService = state.service
        # After the body and the identity are checked (a malformed body is 400 and a
        # stranger 401/403: neither counts), before anything changes (a refused join
        # issues nothing): docs/contract.md §9. Joins count by fan as well when the
        # fan is verified.
        if limits.joins_limited:  # off: the client's address is not even worked out
            address = scope_address(request.scope, state.settings.trusted_proxies)
            await limits.hit_join(address, user_id=await verified_user(request))
        command = IssueTokenCommand(body.user_id, body.concert_id, body.proof)
        issued = await service.issue_token(command)
        app_metrics(request).token_issued(issued)
        reply = QueueTokenResponse.of(issued)
        return Response(
            reply,
            status_code=HTTP_201_CREATED if issued.created else HTTP_200_OK,
            headers=_retry_after(reply.status, reply.poll_after_seconds),
        )

    @get(
        "/status",
        summary="Poll a queue token",
        description=(
            "The token's state, position, estimated wait and polling hint, in any state. "
            "Polling keeps a WAITING token's place."
        ),
        security=SECURED,
        response_headers=[RETRY_AFTER_WHILE_WAITING],
        responses=problem_responses(401),
    )
    async def status(self, request: Request[Any, Any, Any]) -> Response[QueueStatusResponse]:
        token = bearer_token(request)
        reply = QueueStatusResponse.of(await _service(request).queue_status(token))
        return Response(reply, headers=_retry_after(reply.status, reply.poll_after_seconds))

    @delete(
        "/tokens/me",
        summary="Leave the waiting room",
        description=(
            "Ends a WAITING or ACTIVE token, freeing its place and releasing its unpaid holds."
        ),
        security=SECURED,
        responses=problem_responses(401, 403),
    )
    async def leave(
        self, request: Request[Any, Any, Any], leave_queue: NamedDependency[LeaveQueue]
    ) -> None:
        token = bearer_token(request)
        await leave_queue(token)

    @get(
        "/challenge",
        summary="Get a join challenge",
        description=(
            "A proof-of-work challenge in the ALTCHA format for joining the concert: find "
            "the integer n, 0 <= n <= maxnumber, with sha256(salt + str(n)) in hex equal "
            "to challenge, then send base64 of the JSON {algorithm, challenge, number, "
            "salt, signature} as `proof` in POST /api/v1/queue/tokens. It expires a few "
            "minutes after it is issued, names its concert, and is good for one join. "
            "Any concert has one, whether or not its sale asks for it. Needs no token."
        ),
        responses=problem_responses(404),
    )
    async def challenge(
        self, new_join_challenge: NamedDependency[NewJoinChallenge], concert_id: ConcertIdQuery
    ) -> JoinChallengeResponse:
        made = await new_join_challenge(parse_concert_id(concert_id))
        return JoinChallengeResponse.of(made)
