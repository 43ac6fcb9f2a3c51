"""`case.created`: intake accepted a new case (key: case_id)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from contracts.common import CaseDetails, Consent, Contract, Reporter
from contracts.envelope import Event


class Case(CaseDetails):
    """A case as accepted by intake: the details plus the reporter's contact and consent."""

    reporter: Reporter | None = Field(default=None, description="Absent when the resident stays anonymous")
    consent: Consent = Field(default_factory=Consent)
    secret_hash: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the secret the resident got at submission (proves ownership for disputes)",
    )


class CaseCreated(Event):
    TOPIC: ClassVar[str] = "case.created"
    EVENT_TYPE: ClassVar[str] = "case.created"

    event_type: Literal["case.created"] = "case.created"
    schema_version: Literal[1] = 1
    case: Case


__all__ = ["Case", "CaseCreated", "Contract"]
