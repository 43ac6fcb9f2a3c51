"""What intake's handlers need, passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request

from cityconfig import CityIndex
from intake.adapters.clients import TrackerClient
from intake.adapters.repository import CaseNumbers, CaseWriter
from servicekit.outbox import OutboxRelay


@dataclass
class IntakeContext:
    city: CityIndex
    pool: Any
    relay: OutboxRelay
    public_base_url: str
    tracker: TrackerClient
    own_base_url: str = "http://127.0.0.1:8001"
    numbers: CaseNumbers = field(default_factory=CaseNumbers)
    writer: CaseWriter = field(init=False)

    def __post_init__(self) -> None:
        self.writer = CaseWriter(self.pool)

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.city.config.city.timezone)

    def status_url(self, case_id: str) -> str:
        return f"{self.public_base_url.rstrip('/')}/v1/public/cases/{case_id}"


def context(request: Request) -> IntakeContext:
    """The IntakeContext of the app serving this request (set by bootstrap)."""
    ctx: IntakeContext = request.app.state.intake
    return ctx
