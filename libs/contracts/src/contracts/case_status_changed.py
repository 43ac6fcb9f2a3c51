"""`case.status_changed`: any status transition (key: case_id)."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from contracts.common import Actor, CaseNumber, CaseStatus, Language
from contracts.envelope import Event


class CaseStatusChanged(Event):
    TOPIC: ClassVar[str] = "case.status_changed"
    EVENT_TYPE: ClassVar[str] = "case.status_changed"

    event_type: Literal["case.status_changed"] = "case.status_changed"
    schema_version: Literal[1] = 1
    case_number: CaseNumber
    from_status: CaseStatus | None = Field(
        default=None, description="Status before; absent for the first one"
    )
    to_status: CaseStatus
    actor: Actor
    public_note: str | None = Field(
        default=None,
        max_length=4000,
        description="Text the resident can read",
        examples=["Odpady zostały odebrane"],
    )
    unit_id: str | None = Field(
        default=None, description="Unit holding the case after the change", examples=["zdm"]
    )
    duplicate_of: UUID | None = Field(default=None, description="For to_status=duplicate: the surviving case")
    sequence: int = Field(ge=1, description="Position of this change in the case's history (1, 2, …)")
    language: Language = Field(default=Language.PL, description="The reporter's language, for notifications")
