"""Operators' tool for dead letters.

  python -m servicekit.dlq list case.created              # what is there, with the reasons
  python -m servicekit.dlq redrive case.created           # after a fix: send them back to case.created

Re-driving publishes each dead letter's original key, value and headers (without the dlq_* ones) to its
original topic, and remembers how far it got (consumer group `dlq-redrive`), so no letter is re-driven twice.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import dead_letter_topic, headers_dict
from servicekit.kafka import topic_partitions

REDRIVE_GROUP = "dlq-redrive"


async def _records(bootstrap: str, dlq: str, group: str | None) -> tuple[Any, list[Any]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    parts = await topic_partitions(bootstrap, [dlq])
    consumer.assign(parts)
    if group is None:
        await consumer.seek_to_beginning(*parts)
    ends = await consumer.end_offsets(parts)
    out: list[Any] = []
    for tp in parts:
        if group is not None and await consumer.committed(tp) is None:
            await consumer.seek_to_beginning(tp)
    remaining = {tp for tp in parts if await consumer.position(tp) < ends[tp]}
    while remaining:
        batch = await consumer.getmany(*remaining, timeout_ms=1000)
        for tp, records in batch.items():
            out.extend(r for r in records if r.offset < ends[tp])
        remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
    return consumer, out


async def list_letters(bootstrap: str, topic: str) -> int:
    consumer, records = await _records(bootstrap, dead_letter_topic(topic), None)
    await consumer.stop()
    for r in records:
        h = headers_dict(r.headers)
        print(
            f"{h.get('dlq_topic')}[{h.get('dlq_partition')}]@{h.get('dlq_offset')} group={h.get('dlq_consumer_group')} "
            f"at={h.get('dlq_failed_at')} reason={h.get('dlq_reason')}"
        )
    print(f"{len(records)} dead letter(s) in {dead_letter_topic(topic)}")
    return len(records)


async def redrive(bootstrap: str, topic: str) -> int:
    consumer, records = await _records(bootstrap, dead_letter_topic(topic), REDRIVE_GROUP)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for r in records:
            headers = [(k, v) for k, v in (r.headers or []) if not k.startswith("dlq_")]
            await producer.send_and_wait(
                topic, value=r.value, key=r.key, headers=[*headers, ("redriven", b"1")]
            )
        await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
    print(f"re-drove {len(records)} dead letter(s) from {dead_letter_topic(topic)} to {topic}")
    return len(records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m servicekit.dlq",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=["list", "redrive"])
    parser.add_argument("topic", help="the original topic, e.g. case.created")
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"))
    args = parser.parse_args(argv)
    if args.action == "list":
        asyncio.run(list_letters(args.bootstrap, args.topic))
    else:
        asyncio.run(redrive(args.bootstrap, args.topic))
    return 0


if __name__ == "__main__":
    sys.exit(main())
