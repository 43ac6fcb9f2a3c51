"""Poison on every topic, against the running services and the real broker: each consumer group (router,
tracker, notifier) sends what it cannot read to `<topic>.dlq` with the reason, the source coordinates and
the original bytes, and carries on: a case submitted after the poison is routed, tracked and confirmed."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict

import pytest

from contracts import dead_letter_topic
from devstack.mailbox import read_messages
from devstack.testing import System, case_body, publish, submit_case, watch

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

TOPICS = ("case.created", "case.routed", "case.status_changed")
# which of the system's consumer groups read which topic
READERS = {
    "case.created": ("router", "tracker", "notifier"),
    "case.routed": ("tracker",),
    "case.status_changed": ("router", "tracker", "notifier"),
}


async def test_poison_on_every_topic_is_dead_lettered_by_every_reader_and_the_pipeline_carries_on(
    system: System,
) -> None:
    bootstrap = system.intake.env["KAFKA_BOOTSTRAP_SERVERS"]
    marker = uuid.uuid4().hex
    poison = {
        topic: [
            f"not json {marker}".encode(),
            json.dumps({"event_type": topic, "marker": marker, "case_id": "not-a-uuid"}).encode(),
        ]
        for topic in TOPICS
    }
    groups = {
        svc: env[f"{svc.upper()}_CONSUMER_GROUP"]
        for svc, env in system.env.items()
        if f"{svc.upper()}_CONSUMER_GROUP" in env
    }
    watchers = {topic: watch(bootstrap, dead_letter_topic(topic)) for topic in TOPICS}
    opened = {topic: await w.__aenter__() for topic, w in watchers.items()}
    try:
        await publish(bootstrap, raw=[(topic, value) for topic in TOPICS for value in poison[topic]])
        email = f"po-truciznie-{marker[:8]}@example.org"
        # a case after the poison must go all the way: routed now, confirmed below
        await submit_case(system, case_body(description="Gabaryty po truciźnie", reporter={"email": email}))
        expected = {
            (topic, groups[svc], value)
            for topic in TOPICS
            for svc in READERS[topic]
            for value in poison[topic]
        }

        def mine(records: list[object]) -> set[tuple[str, str, bytes]]:
            out = set()
            for r in records:
                h = {k: v.decode() for k, v in r.headers}  # type: ignore[attr-defined]
                if h.get("dlq_consumer_group") in groups.values():
                    out.add((h["dlq_topic"], h["dlq_consumer_group"], r.value))  # type: ignore[attr-defined]
            return out

        letters: dict[str, list[object]] = defaultdict(list)
        for topic, watcher in opened.items():
            letters[topic] = await watcher.collect(
                lambda rs, t=topic: {e for e in expected if e[0] == t} <= mine(rs), timeout=60
            )
        got = set().union(*(mine(rs) for rs in letters.values()))
        assert expected <= got, expected - got
        for records in letters.values():
            for r in records:
                h = {k: v.decode() for k, v in r.headers}  # type: ignore[attr-defined]
                if h.get("dlq_consumer_group") in groups.values():
                    assert h["dlq_reason"], h
                    assert int(h["dlq_offset"]) >= 0
                    assert int(h["dlq_partition"]) >= 0
                    assert r.topic == dead_letter_topic(h["dlq_topic"])  # type: ignore[attr-defined]

        # the consumers carried on: the case after the poison was routed (above) and confirmed
        for _ in range(150):
            if any(email in m["to"] for m in read_messages(system.smtp.directory)):
                break
            await asyncio.sleep(0.2)
        assert any(email in m["to"] for m in read_messages(system.smtp.directory))
    finally:
        for w in watchers.values():
            await w.__aexit__(None, None, None)
