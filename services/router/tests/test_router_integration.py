"""Router against the real Kafka and PostgreSQL, run as a process."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from contracts import (
    Actor,
    ActorKind,
    Case,
    CaseCreated,
    CaseRouted,
    CaseStatus,
    CaseStatusChanged,
    decode,
    encode,
    headers_dict,
)
from devstack.testing import RunningService, Stack, prime_group, publish, watch

pytestmark = pytest.mark.integration

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"


def created(
    event: str | None, lat: float | None = 52.1931, lon: float | None = 21.0346, consent: bool = False
) -> CaseCreated:
    from cityconfig import load_city

    city = load_city(Path(__file__).resolve().parents[3] / "deploy" / "config" / "warsaw")
    leaf = city.leaf(event) if event else None
    case = Case.model_validate(
        {
            "case_number": f"{uuid.uuid4().int % 9_000_000 + 1_000_000}/26",
            "kind": "intervention",
            "description": "opis",
            "category": {"category": leaf.category, "subcategory": leaf.subcategory, "event": leaf.event}
            if leaf
            else ({"category": "x", "event": event} if event else None),
            "location": {"lat": lat, "lon": lon} if lat is not None else None,
            "channel": "mobile",
            "received_at": datetime.now(UTC),
            "reporter": {"email": "r@example.org", "name": "R"},
            "consent": {"share_contact_with_unit": consent},
        }
    )
    return CaseCreated(case_id=uuid.uuid4(), correlation_id=f"corr-{uuid.uuid4().hex[:6]}", case=case)


@pytest.fixture
async def router_env(stack: Stack, fresh_db: Any) -> dict[str, str]:
    group = f"router-test-{uuid.uuid4().hex[:8]}"
    await prime_group(stack.kafka_bootstrap, group, ["case.created", "case.status_changed"])
    return {
        "ROUTER_DATABASE_URL": await fresh_db("router"),
        "ROUTER_CONSUMER_GROUP": group,
        "CITY_BOUNDARIES_FILE": str(SHARED / "warsaw-districts.geojson"),
    }


def routed_for(records: list[Any], case_id: uuid.UUID) -> list[tuple[bytes, CaseRouted]]:
    out = []
    for r in records:
        event = decode(r.topic, r.value)
        if isinstance(event, CaseRouted) and event.case_id == case_id:
            out.append((r.key, event))
    return out


async def test_route_reject_reroute_and_triage(
    stack: Stack, services: Any, router_env: dict[str, str]
) -> None:
    await services("router", router_env)
    pothole = created("drogi.nawierzchnia", consent=True)
    nowhere = created("drogi.sygnalizacja", lat=50.0614, lon=19.9366)
    async with watch(stack.kafka_bootstrap, "case.routed") as watcher:
        await publish(stack.kafka_bootstrap, pothole, nowhere)
        await watcher.collect(
            lambda rs: bool(routed_for(rs, pothole.case_id)) and bool(routed_for(rs, nowhere.case_id))
        )
        key, first = routed_for(watcher.records, pothole.case_id)[0]
        assert (key, first.unit_id, first.reason.rule) == (b"ud-mokotow", "ud-mokotow", "roads-local-surface")
        assert first.reason.district == "Mokotów"
        assert first.reason.district_source.value == "polygon"
        assert first.sla_due_at is not None
        assert first.reporter is not None  # consented
        assert first.correlation_id == pothole.correlation_id
        assert headers_dict(watcher.records[0].headers)["event_type"] == "case.routed"
        _, triage = routed_for(watcher.records, nowhere.case_id)[0]
        assert triage.unit_id == "triage"
        assert triage.reason.triage_reason == "location outside the city"
        assert triage.reporter is None  # no consent

        rejection = CaseStatusChanged(
            case_id=pothole.case_id,
            correlation_id=pothole.correlation_id,
            case_number=pothole.case.case_number,
            from_status=CaseStatus.ROUTED,
            to_status=CaseStatus.REJECTED,
            actor=Actor(kind=ActorKind.UNIT, id="ud-mokotow"),
            public_note="Droga w zarządzie ZDM",
            unit_id="ud-mokotow",
            sequence=3,
        )
        await publish(stack.kafka_bootstrap, rejection)
        await watcher.collect(lambda rs: len(routed_for(rs, pothole.case_id)) >= 2)
        key, second = routed_for(watcher.records, pothole.case_id)[1]
        assert (key, second.unit_id) == (b"zdm", "zdm")
        assert second.reason.excluded_units == ["ud-mokotow"]


async def test_poison_goes_to_the_dead_letter_topic_and_the_router_carries_on(
    stack: Stack, services: Any, router_env: dict[str, str]
) -> None:
    router: RunningService = await services("router", router_env)
    good = created("smieci.gabaryty")
    async with (
        watch(stack.kafka_bootstrap, "case.created.dlq") as dlq,
        watch(stack.kafka_bootstrap, "case.routed") as routed,
    ):
        await publish(
            stack.kafka_bootstrap,
            good,
            raw=[("case.created", b"{this is not json"), ("case.created", b'{"event_type": "case.created"}')],
        )
        await dlq.collect(lambda rs: sum(r.key == b"poison" for r in rs) >= 2)
        await routed.collect(lambda rs: bool(routed_for(rs, good.case_id)))
    poison = [r for r in dlq.records if r.key == b"poison"]
    assert len(poison) == 2
    headers = headers_dict(poison[0].headers)
    assert headers["dlq_topic"] == "case.created"
    assert headers["dlq_consumer_group"] == router_env["ROUTER_CONSUMER_GROUP"]
    assert "invalid case.created message" in headers["dlq_reason"]
    assert int(headers["dlq_offset"]) >= 0
    assert poison[0].value == b"{this is not json"
    assert routed_for(routed.records, good.case_id)[0][1].unit_id == "bgok"
    assert router.alive()


async def test_two_instances_share_the_partitions_without_double_routing(
    stack: Stack, services: Any, router_env: dict[str, str]
) -> None:
    await asyncio.gather(
        services("router", {**router_env, "ROUTER_INSTANCE_ID": "a"}),
        services("router", {**router_env, "ROUTER_INSTANCE_ID": "b"}),
    )
    cases = [created("smieci.przepelnienie") for _ in range(60)]
    ids = {c.case_id for c in cases}
    async with watch(stack.kafka_bootstrap, "case.routed") as watcher:
        await asyncio.sleep(3)  # let the group settle its two members
        await publish(stack.kafka_bootstrap, *cases)
        await watcher.collect(lambda rs: {decode(r.topic, r.value).case_id for r in rs} >= ids, timeout=60)
        await watcher.collect(lambda rs: False, timeout=2)  # anything doubled would show up now
    counts = Counter(decode(r.topic, r.value).case_id for r in watcher.records)
    assert {case_id: counts[case_id] for case_id in ids} == dict.fromkeys(ids, 1)


async def test_dead_letters_are_re_driven_after_a_fix(
    stack: Stack, services: Any, router_env: dict[str, str]
) -> None:
    """A case dead-lettered by a faulty earlier version is listed, then re-driven and routed once."""
    from servicekit.dlq import list_letters, redrive

    await services("router", router_env)
    letter = created("drogi.sygnalizacja")
    key, value, headers = encode(letter)
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            "case.created.dlq",
            value=value,
            key=key,
            headers=[
                *headers,
                ("dlq_reason", b"processing failed: KeyError (fixed in 1.0.1)"),
                ("dlq_topic", b"case.created"),
            ],
        )
    finally:
        await producer.stop()
    assert await list_letters(stack.kafka_bootstrap, "case.created") >= 1
    async with watch(stack.kafka_bootstrap, "case.routed") as routed:
        assert await redrive(stack.kafka_bootstrap, "case.created") >= 1
        await routed.collect(lambda rs: bool(routed_for(rs, letter.case_id)))
        await redrive(
            stack.kafka_bootstrap, "case.created"
        )  # a second re-drive does not send our letter again
        await routed.collect(lambda rs: False, timeout=2)
    assert [e.unit_id for _, e in routed_for(routed.records, letter.case_id)] == ["zdm"]
