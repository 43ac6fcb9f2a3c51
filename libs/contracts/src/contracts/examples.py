"""Example events (tests, documentation, benchmarks)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from contracts.case_created import Case, CaseCreated
from contracts.case_routed import CaseRouted, RoutingReason
from contracts.case_status_changed import CaseStatusChanged
from contracts.common import (
    Actor,
    ActorKind,
    CaseKind,
    CaseStatus,
    CategoryRef,
    Channel,
    Location,
    Reporter,
)


def sample_case(number: str | None = None) -> Case:
    return Case(
        case_number=number or f"{uuid4().int % 9_000_000 + 1_000_000}/26",
        kind=CaseKind.INTERVENTION,
        category=CategoryRef(category="interwencja", subcategory="smieci", event="smieci.gabaryty"),
        description="Zalegające gabaryty przy altanie śmietnikowej",
        channel=Channel.MOBILE,
        location=Location(lat=52.2297, lon=21.0122, district="Śródmieście"),
        photos=["https://example.org/photo.jpg"],
        received_at=datetime.now(UTC),
        reporter=Reporter(email="anna@example.org"),
    )


def sample_events() -> list[CaseCreated | CaseRouted | CaseStatusChanged]:
    case_id = uuid4()
    case = sample_case()
    number = case.case_number
    details = case.model_dump(exclude={"reporter", "consent", "secret_hash"})
    return [
        CaseCreated(case_id=case_id, correlation_id="corr-1", case=case),
        CaseRouted(
            case_id=case_id,
            correlation_id="corr-1",
            unit_id="bgok",
            unit_name="Biuro Gospodarki Odpadami Komunalnymi",
            reason=RoutingReason(rule="waste-city-wide", district="Śródmieście"),
            routed_by=Actor(kind=ActorKind.SYSTEM, id="router"),
            case=details,
        ),
        CaseStatusChanged(
            case_id=case_id,
            correlation_id="corr-1",
            case_number=number,
            from_status=CaseStatus.ROUTED,
            to_status=CaseStatus.IN_PROGRESS,
            actor=Actor(kind=ActorKind.UNIT, id="bgok"),
            sequence=3,
        ),
    ]
