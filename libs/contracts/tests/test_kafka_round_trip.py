"""Model -> real Kafka broker -> model, for each topic."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts import decode, encode, headers_dict
from contracts.examples import sample_events
from devstack.testing import Stack

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("index", [0, 1, 2], ids=["case.created", "case.routed", "case.status_changed"])
async def test_contract_round_trip_through_the_broker(stack: Stack, index: int) -> None:
    event = sample_events()[index]
    key, value, headers = encode(event)
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, group_id=None)
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        meta = await producer.send_and_wait(event.event_type, value=value, key=key, headers=headers)
        tp = TopicPartition(meta.topic, meta.partition)
        consumer.assign([tp])
        consumer.seek(tp, meta.offset)
        record = await consumer.getone()
    finally:
        await producer.stop()
        await consumer.stop()
    assert record.key == key
    assert headers_dict(record.headers)["correlation_id"] == event.correlation_id
    assert decode(record.topic, record.value) == event
