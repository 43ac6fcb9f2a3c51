"""With the broker stopped, intake still accepts cases; they reach Kafka when it is back (outbox)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from devstack import kafka
from devstack.testing import RunningService, Stack
from servicekit.kafka import topic_partitions

pytestmark = pytest.mark.integration

CASE: dict[str, Any] = {
    "kind": "intervention",
    "category": "drogi.parkowanie",
    "channel": "portal",
    "description": "Samochód zaparkowany na przejściu dla pieszych",
    "location": {"lat": 52.2297, "lon": 21.0122},
}


async def end_offsets(bootstrap: str, topic: str) -> dict[Any, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(await topic_partitions(bootstrap, [topic])))
    finally:
        await consumer.stop()


async def read_from(bootstrap: str, offsets: dict[Any, int], want: set[str], timeout: float = 90) -> set[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    found: set[str] = set()
    try:
        consumer.assign(list(offsets))
        for tp, offset in offsets.items():
            consumer.seek(tp, offset)
        deadline = asyncio.get_running_loop().time() + timeout
        while found != want and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    found |= {case_id for case_id in want if case_id.encode() in r.value}
    finally:
        await consumer.stop()
    return found


async def test_cases_accepted_while_kafka_is_down_reach_it_after_restart(
    stack: Stack, services: Any, fresh_db: Any
) -> None:
    if not stack.native:
        pytest.skip("stopping the broker needs the native stack (make test runs it)")
    intake: RunningService = await services("intake", {"INTAKE_DATABASE_URL": await fresh_db("intake")})
    before = await end_offsets(stack.kafka_bootstrap, "case.created")
    await asyncio.to_thread(kafka.stop, stack.cfg)
    try:
        async with httpx.AsyncClient() as client:
            responses = [
                await client.post(
                    f"{intake.url}/v1/cases", json={**CASE, "description": f"Auto nr {i}"}, timeout=30
                )
                for i in range(10)
            ]
            assert [r.status_code for r in responses] == [201] * 10
            ready = await client.get(f"{intake.url}/readyz")
            assert ready.status_code == 503
            metrics = (await client.get(f"{intake.url}/metrics")).text
    finally:
        await asyncio.to_thread(kafka.start, stack.cfg)
    assert 'cc_outbox_backlog{service="intake"}' in metrics
    want = {r.json()["case_id"] for r in responses}
    assert await read_from(stack.kafka_bootstrap, before, want) == want
    await intake.wait_ready()
