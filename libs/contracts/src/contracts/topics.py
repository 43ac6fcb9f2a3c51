"""Topic names, partition counts, keys and dead-letter naming: the one place they are defined."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.case_created import CaseCreated
from contracts.case_routed import CaseRouted
from contracts.case_status_changed import CaseStatusChanged
from contracts.envelope import Event

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    key: str
    model: type[Event]
    description: str

    @property
    def dlq(self) -> str:
        return dead_letter_topic(self.name)


def dead_letter_topic(name: str) -> str:
    return f"{name}{DLQ_SUFFIX}"


CASE_CREATED = Topic(
    name=CaseCreated.TOPIC,
    partitions=6,
    key="case_id",
    model=CaseCreated,
    description="A new case accepted by intake.",
)
CASE_ROUTED = Topic(
    name=CaseRouted.TOPIC,
    partitions=6,
    key="unit_id",
    model=CaseRouted,
    description="A case assigned to the responsible unit, or to the contact centre's triage queue.",
)
CASE_STATUS_CHANGED = Topic(
    name=CaseStatusChanged.TOPIC,
    partitions=6,
    key="case_id",
    model=CaseStatusChanged,
    description="Any status transition of a case, with who made it and a public note.",
)

TOPICS: dict[str, Topic] = {t.name: t for t in (CASE_CREATED, CASE_ROUTED, CASE_STATUS_CHANGED)}
DLQ_PARTITIONS = 1


def all_topic_names() -> list[tuple[str, int]]:
    """Every topic with its partition count, dead-letter topics included."""
    out: list[tuple[str, int]] = []
    for t in TOPICS.values():
        out.append((t.name, t.partitions))
        out.append((t.dlq, DLQ_PARTITIONS))
    return out
