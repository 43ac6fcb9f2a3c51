"""The envelope every event carries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, Field

from contracts.common import Contract


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(Contract):
    """Common envelope. `event_id` is the idempotency key for every consumer."""

    TOPIC: ClassVar[str]
    EVENT_TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1

    event_id: UUID = Field(
        default_factory=uuid4, description="Unique id of this event; consumers dedupe on it"
    )
    event_type: str = Field(
        description="Type of the event, equal to its topic name", examples=["case.created"]
    )
    schema_version: int = Field(default=1, ge=1, description="Major version of this event's schema")
    occurred_at: AwareDatetime = Field(
        default_factory=utcnow, description="When it happened (timezone-aware)"
    )
    case_id: UUID = Field(description="Internal id of the case")
    correlation_id: str = Field(
        min_length=1,
        max_length=128,
        description="Follows one case's path through every service, log line and message",
        examples=["c0ffee00-1111-4222-8333-444455556666"],
    )

    def kafka_key(self) -> bytes:
        """Partition key; per-topic models override when the key is not the case."""
        return str(self.case_id).encode()
