"""What a channel submits, and the decisions about it: is it complete, is it in the city, what is the case."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, HttpUrl, field_validator

from cityconfig import CityIndex
from contracts import Case, CaseKind, CategoryRef, Channel, Consent, Language, Location, Reporter

MAX_PHOTOS = 5


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: float | None = Field(default=None, ge=-90, le=90, examples=[52.2297])
    lon: float | None = Field(default=None, ge=-180, le=180, examples=[21.0122])
    address: str | None = Field(default=None, max_length=300, examples=["ul. Marszałkowska 10"])
    district: str | None = Field(default=None, max_length=80, examples=["Śródmieście"])


class ReporterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 ()-]{5,32}$")
    device_token: str | None = Field(default=None, max_length=4096)


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    share_contact_with_unit: bool = Field(default=False, description="May the unit see my contact data?")


class CaseSubmission(BaseModel):
    """POST /v1/cases body."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: CaseKind
    category: str | None = Field(
        default=None,
        max_length=80,
        description="Catalogue code (required for interventions)",
        examples=["drogi.sygnalizacja"],
    )
    description: str = Field(min_length=1, max_length=4000, description="Plain text, 1–4000 characters")
    location: LocationIn | None = None
    photos: list[HttpUrl] = Field(
        default_factory=list, max_length=MAX_PHOTOS, description="Up to 5 photo URLs"
    )
    channel: Channel
    consultant_id: str | None = Field(default=None, max_length=120)
    reporter: ReporterIn | None = None
    language: Language = Language.PL
    consent: ConsentIn = Field(default_factory=ConsentIn)
    emergency_override: bool = Field(
        default=False, description="A consultant confirms this is not an emergency (needs consultant_id)"
    )

    @field_validator("description")
    @classmethod
    def _no_control_chars(cls, value: str) -> str:
        if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in value):
            raise ValueError("description must be plain text without control characters")
        return value

    def fingerprint(self) -> str:
        """Stable hash of the request body (for Idempotency-Key comparisons)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str
    reason: str


def check_submission(sub: CaseSubmission, city: CityIndex) -> list[FieldProblem]:
    """Rules the schema cannot express: catalogue, required fields per category, the city's bounds."""
    problems: list[FieldProblem] = []
    leaf = None
    if sub.category is not None:
        leaf = city.leaf(sub.category)
        if leaf is None:
            problems.append(
                FieldProblem(
                    "category",
                    f"unknown category {sub.category!r}; see GET /v1/categories",
                    "unknown_category",
                )
            )
        elif sub.kind not in leaf.kinds:
            allowed = ", ".join(k.value for k in leaf.kinds)
            problems.append(
                FieldProblem(
                    "category",
                    f"category {sub.category!r} is for kind {allowed}, not {sub.kind.value}",
                    "category_kind_mismatch",
                )
            )
    elif sub.kind is CaseKind.INTERVENTION:
        problems.append(FieldProblem("category", "an intervention needs a category", "missing_category"))
    requires = set(leaf.requires) if leaf else ({"location"} if sub.kind is CaseKind.INTERVENTION else set())
    loc = sub.location
    has_point = loc is not None and loc.lat is not None and loc.lon is not None
    if loc is not None and (loc.lat is None) != (loc.lon is None):
        problems.append(FieldProblem("location", "lat and lon go together", "incomplete_coordinates"))
    if "location" in requires and not (has_point or (loc is not None and loc.address)):
        problems.append(
            FieldProblem(
                "location", "this category needs a location (lat/lon or address)", "missing_location"
            )
        )
    if (
        has_point
        and loc is not None
        and loc.lat is not None
        and loc.lon is not None
        and not city.config.city.bounds.contains(loc.lat, loc.lon)
    ):
        problems.append(
            FieldProblem("location", f"the point is outside {city.config.city.name}", "outside_city")
        )
    if loc is not None and loc.district and city.district(loc.district) is None:
        problems.append(
            FieldProblem("location.district", f"unknown district {loc.district!r}", "unknown_district")
        )
    if "photo" in requires and not sub.photos:
        problems.append(FieldProblem("photos", "this category needs a photo", "missing_photo"))
    if "contact" in requires and not (sub.reporter and (sub.reporter.email or sub.reporter.phone)):
        problems.append(FieldProblem("reporter", "this category needs a contact", "missing_contact"))
    if sub.emergency_override and not sub.consultant_id:
        problems.append(
            FieldProblem(
                "emergency_override",
                "only a consultant (consultant_id) may override",
                "override_without_consultant",
            )
        )
    return problems


def build_case(
    sub: CaseSubmission,
    city: CityIndex,
    case_id: UUID,
    case_number: str,
    received_at: datetime,
    secret_hash: str,
) -> Case:
    category = None
    if sub.category:
        leaf = city.leaf(sub.category)
        assert leaf is not None
        category = CategoryRef(category=leaf.category, subcategory=leaf.subcategory, event=leaf.event)
    location = None
    if sub.location is not None:
        district = city.district(sub.location.district)
        location = Location(
            lat=sub.location.lat,
            lon=sub.location.lon,
            address=sub.location.address,
            district=district.name if district else None,
        )
    reporter = None
    if sub.reporter is not None and any(sub.reporter.model_dump().values()):
        reporter = Reporter.model_validate(sub.reporter.model_dump())
    return Case(
        case_number=case_number,
        kind=sub.kind,
        category=category,
        description=sub.description,
        location=location,
        photos=list(sub.photos),
        channel=sub.channel,
        consultant_id=sub.consultant_id,
        language=sub.language,
        received_at=received_at,
        reporter=reporter,
        consent=Consent(share_contact_with_unit=sub.consent.share_contact_with_unit),
        secret_hash=secret_hash,
    )


def format_case_number(sequence: int, year: int) -> str:
    """Warsaw's NNNNN/YY."""
    return f"{sequence}/{year % 100:02d}"


def problem_fields(problems: list[FieldProblem]) -> list[dict[str, Any]]:
    return [{"field": p.field, "message": p.message, "type": p.reason} for p in problems]
