"""The queue's scripts as one Redis function library: loaded once, named by its text,
and loaded again when Redis no longer has it (a restart without persistence)."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis

from adapters.redis import RedisQueueStore
from adapters.redis.scripts import ScriptLibrary
from concert_core.domain import ConcertId, TokenId, TokenStatus, UserId
from concert_core.policy import Policy
from contract.helpers import T0, at
from services import redis_namespace

pytestmark = pytest.mark.redis

QUEUE = RedisQueueStore._SCRIPTS
HEAD = ("queue_common", "queue_passes")


async def test_a_store_loads_its_library_again_when_redis_has_lost_it() -> None:
    async for client, namespace in redis_namespace():
        store = RedisQueueStore(client, Policy(), namespace=namespace)
        concert, token_id = ConcertId(7), TokenId(uuid.uuid4())
        await store.issue(UserId(uuid.uuid4()), concert, token_id, T0)
        library = ScriptLibrary(client, QUEUE, prelude=HEAD).name
        assert library.encode() in [
            entry[1] for entry in await client.function_list(library=library)
        ]

        await client.function_delete(library)  # as Redis restarted without persistence

        place = await store.poll(concert, token_id, at(1))
        assert place is not None and place.status is TokenStatus.WAITING
        assert place.position == 1
        assert await client.function_list(library=library)  # loaded once more


async def test_a_library_is_named_by_its_text() -> None:
    async for client, _ in redis_namespace():
        queue = ScriptLibrary(client, QUEUE, prelude=HEAD)
        fewer = ScriptLibrary(client, QUEUE[:-1], prelude=HEAD)
        again = ScriptLibrary(client, QUEUE, prelude=HEAD)
        assert queue.name == again.name != fewer.name
        assert queue.names == QUEUE


async def test_where_functions_are_refused_the_queue_runs_as_scripts_alike() -> None:
    """A Redis user allowed scripts but not FUNCTION (an ACL, or a proxy that does not
    pass it): the same answers, from the same bodies run as scripts."""
    async for admin, namespace in redis_namespace():
        user, password = f"{namespace}-nofn", uuid.uuid4().hex
        await admin.acl_setuser(
            user,
            enabled=True,
            passwords=[f"+{password}"],
            keys=["*"],
            commands=["+@all", "-function", "-fcall", "-fcall_ro"],
        )
        kwargs = admin.connection_pool.connection_kwargs
        client = aioredis.Redis(
            host=kwargs.get("host", "127.0.0.1"),
            port=kwargs.get("port", 6379),
            db=kwargs.get("db", 0),
            username=user,
            password=password,
        )
        try:
            store = RedisQueueStore(client, Policy(), namespace=namespace)
            await store.prepare()
            assert not store._library.uses_functions
            concert, first, second = ConcertId(8), TokenId(uuid.uuid4()), TokenId(uuid.uuid4())
            await store.issue(UserId(uuid.uuid4()), concert, first, T0)
            issued = await store.issue(UserId(uuid.uuid4()), concert, second, at(1))
            assert issued.created and issued.place.position == 2
            admitted = await store.admit(concert, at(2), capacity=1)
            assert [token.token_id for token in admitted] == [first]
            place = await store.poll(concert, second, at(3))
            assert place is not None and place.position == 1
        finally:
            await client.aclose()
            await admin.acl_deluser(user)
