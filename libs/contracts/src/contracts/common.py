"""Value types shared by every topic's messages."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, StringConstraints, WithJsonSchema


class Contract(BaseModel):
    """Base of every contract model: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class CaseKind(StrEnum):
    """The three kinds of case the contact centre takes."""

    INTERVENTION = "intervention"
    PROPOSAL = "proposal"
    INFORMATION = "information"


class Channel(StrEnum):
    """Where the case came in."""

    PHONE = "phone"
    PORTAL = "portal"
    MOBILE = "mobile"
    EMAIL = "email"
    OPEN311 = "open311"
    WEBCHAT = "webchat"
    SMS = "sms"
    API = "api"


class Language(StrEnum):
    """Languages residents are answered in."""

    PL = "pl"
    EN = "en"
    UK = "uk"


class CaseStatus(StrEnum):
    """The life of a case. Labels in pl/en/uk live with the tracker."""

    NEW = "new"
    TRIAGE = "triage"
    ROUTED = "routed"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    REJECTED = "rejected"
    REOPENED = "reopened"
    DUPLICATE = "duplicate"


class ActorKind(StrEnum):
    UNIT = "unit"
    CONSULTANT = "consultant"
    RESIDENT = "resident"
    SYSTEM = "system"


Latitude = Annotated[float, Field(ge=-90, le=90, description="WGS84 latitude, degrees", examples=[52.2297])]
Longitude = Annotated[
    float, Field(ge=-180, le=180, description="WGS84 longitude, degrees", examples=[21.0122])
]
CaseNumber = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{1,7}/[0-9]{2}$",
        description="Public case number NNNNN/YY: a sequence that restarts each year",
        examples=["85130/19"],
    ),
]


class CategoryRef(Contract):
    """Where a case sits in the catalogue: category -> subcategory -> event (codes)."""

    category: str = Field(description="Top-level category code", examples=["interwencja"])
    subcategory: str | None = Field(default=None, description="Subcategory code", examples=["smieci"])
    event: str | None = Field(
        default=None, description="Event code (the leaf, Open311 service_code)", examples=["smieci.gabaryty"]
    )

    @property
    def leaf(self) -> str:
        return self.event or self.subcategory or self.category


class Location(Contract):
    """Where the problem is. Coordinates and/or an address; the district as the channel gave it."""

    lat: Latitude | None = None
    lon: Longitude | None = None
    address: str | None = Field(
        default=None,
        max_length=300,
        description="Free-text address",
        examples=["ul. Paryska 8, 03-954 Warszawa"],
    )
    district: str | None = Field(
        default=None,
        max_length=80,
        description="District as supplied by the channel",
        examples=["Praga-Południe"],
    )

    @property
    def has_point(self) -> bool:
        return self.lat is not None and self.lon is not None


# Addresses are validated in full (email-validator) where they enter the system: intake's and the
# notifier's APIs. In messages between the services only their shape is checked again, which costs a
# fraction of a full validation on every consumer.
EmailAddress = Annotated[
    str,
    StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 254}),
]


class Reporter(Contract):
    """The resident's contact data. Every field is optional: a resident may stay anonymous."""

    name: str | None = Field(default=None, max_length=200, examples=["Anna Kowalska"])
    email: EmailAddress | None = Field(default=None, examples=["anna@example.org"])
    phone: str | None = Field(default=None, max_length=32, examples=["+48 600 100 200"])
    device_token: str | None = Field(
        default=None, max_length=4096, description="Push token of the mobile app", examples=["fcm:abc123"]
    )


class Consent(Contract):
    """What the resident allowed."""

    share_contact_with_unit: bool = Field(
        default=False, description="May the responsible unit see the reporter's contact data?"
    )


class Actor(Contract):
    """Who made a change."""

    kind: ActorKind
    id: str | None = Field(
        default=None, max_length=120, description="Unit id, consultant id, …", examples=["zdm"]
    )


PhotoUrl = HttpUrl


class CaseDetails(Contract):
    """What was reported: everything a unit needs to act, without the reporter's personal data."""

    case_number: CaseNumber
    kind: CaseKind
    category: CategoryRef | None = Field(default=None, description="Required for interventions")
    description: str = Field(
        min_length=1, max_length=4000, examples=["Zalegające gabaryty przy altanie śmietnikowej"]
    )
    location: Location | None = None
    photos: list[PhotoUrl] = Field(default_factory=list, max_length=5)
    channel: Channel
    consultant_id: str | None = Field(
        default=None, max_length=120, description="Phone consultant who typed it in"
    )
    language: Language = Language.PL
    received_at: AwareDatetime = Field(description="When intake accepted the case")
