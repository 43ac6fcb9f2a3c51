"""The consumer's decisions with fakes (milliseconds): poison and unprocessable records are dead-lettered
with their reason, the rest are handled; a transient failure puts the whole batch back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from contracts import encode
from contracts.examples import sample_events
from servicekit.kafka import ConsumerSpec, Delivery, RetryLater, process_records


@dataclass
class Record:
    topic: str
    value: bytes | None
    key: bytes | None = b"k"
    partition: int = 0
    offset: int = 0
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class FakePublisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, dict[str, bytes]]] = []

    async def send_raw(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        self.sent.append((topic, value, dict(headers)))


def record(offset: int, value: bytes | None = None) -> Record:
    if value is None:
        _, value, headers = encode(sample_events()[0])
        return Record("case.created", value, offset=offset, headers=headers)
    return Record("case.created", value, offset=offset)


def spec(handler: Any) -> ConsumerSpec:
    return ConsumerSpec(service="test", group_id="g", topics=["case.created"], handler=handler)


async def test_poison_is_dead_lettered_and_the_rest_handled() -> None:
    handled: list[Delivery] = []

    async def handler(batch: list[Delivery]) -> None:
        handled.extend(batch)

    publisher = FakePublisher()
    await process_records(spec(handler), publisher, [record(1), record(2, b"{not json"), record(3)])  # type: ignore[arg-type]
    assert [d.offset for d in handled] == [1, 3]
    [(topic, value, headers)] = publisher.sent
    assert topic == "case.created.dlq"
    assert value == b"{not json"
    assert headers["dlq_offset"] == b"2"
    assert headers["dlq_consumer_group"] == b"g"
    assert b"invalid case.created message" in headers["dlq_reason"]


async def test_an_unprocessable_event_is_isolated_by_retrying_one_by_one() -> None:
    bad = record(2)
    bad_event_id = None

    async def handler(batch: list[Delivery]) -> None:
        nonlocal bad_event_id
        for d in batch:
            if d.offset == 2:
                bad_event_id = d.event.event_id
                raise KeyError("bug in the handler")

    publisher = FakePublisher()
    await process_records(spec(handler), publisher, [record(1), bad, record(3)])  # type: ignore[arg-type]
    assert len(publisher.sent) == 1
    assert b"KeyError" in publisher.sent[0][2]["dlq_reason"]
    assert bad_event_id is not None


@pytest.mark.parametrize(
    "error",
    [RetryLater("not now"), ConnectionRefusedError(), asyncpg.exceptions.ConnectionDoesNotExistError("gone")],
)
async def test_transient_errors_put_the_batch_back(error: Exception) -> None:
    async def handler(batch: list[Delivery]) -> None:
        raise error

    publisher = FakePublisher()
    with pytest.raises(type(error)):
        await process_records(spec(handler), publisher, [record(1), record(2)])  # type: ignore[arg-type]
    assert publisher.sent == []


async def test_a_service_passes_over_what_it_published_itself_when_asked() -> None:
    handled: list[Delivery] = []

    async def handler(batch: list[Delivery]) -> None:
        handled.extend(batch)

    own = record(2, b"{not even decoded")
    own.headers.append(("producer", b"test"))
    other = record(3)
    other.headers.append(("producer", b"router"))
    publisher = FakePublisher()
    records = [record(1), own, other]
    skipping = ConsumerSpec(
        service="test", group_id="g", topics=["case.created"], handler=handler, skip_own=True
    )
    await process_records(skipping, publisher, records)  # type: ignore[arg-type]
    assert [d.offset for d in handled] == [1, 3]
    assert publisher.sent == []  # passed over, not dead-lettered
    handled.clear()
    await process_records(spec(handler), publisher, records)  # type: ignore[arg-type]
    assert [d.offset for d in handled] == [1, 3]
    assert [topic for topic, _, _ in publisher.sent] == ["case.created.dlq"]  # without skip_own it is read
