"""`case.routed`: a case assigned to a unit or to the triage queue (key: unit_id)."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from contracts.common import Actor, CaseDetails, Contract, Reporter
from contracts.envelope import Event

TRIAGE_UNIT_ID = "triage"


class DistrictSource(StrEnum):
    """How the district was found."""

    POLYGON = "polygon"
    CHANNEL = "channel"
    NEAREST_CENTRE = "nearest_centre"
    NONE = "none"


class RoutingReason(Contract):
    """Why this unit: the rule that matched, the district and how it was found."""

    rule: str = Field(
        description="Id of the routing rule that matched, or 'triage'", examples=["waste-city-wide"]
    )
    district: str | None = Field(default=None, description="Canonical district name", examples=["Mokotów"])
    district_source: DistrictSource = DistrictSource.NONE
    triage_reason: str | None = Field(
        default=None, description="Why the case could not be placed", examples=["location outside the city"]
    )
    excluded_units: list[str] = Field(
        default_factory=list, description="Units that rejected the case earlier and are never chosen again"
    )


class CaseRouted(Event):
    TOPIC: ClassVar[str] = "case.routed"
    EVENT_TYPE: ClassVar[str] = "case.routed"

    event_type: Literal["case.routed"] = "case.routed"
    schema_version: Literal[1] = 1
    unit_id: str = Field(description="Responsible unit, or 'triage'", examples=["zdm"])
    unit_name: str = Field(description="Unit's name (pl)", examples=["Zarząd Dróg Miejskich"])
    reason: RoutingReason
    sla_due_at: AwareDatetime | None = Field(default=None, description="When the unit should have closed it")
    routed_by: Actor = Field(description="The router (system) or the consultant who assigned a triage case")
    case: CaseDetails
    reporter: Reporter | None = Field(
        default=None, description="Only when the resident consented to share contact data with the unit"
    )

    @property
    def is_triage(self) -> bool:
        return self.unit_id == TRIAGE_UNIT_ID

    def kafka_key(self) -> bytes:
        return self.unit_id.encode()
