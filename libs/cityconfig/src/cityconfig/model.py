"""The shape of a city's configuration folder (city.yaml, units.yaml, catalogue.yaml, routing.yaml)."""

from __future__ import annotations

import unicodedata
from datetime import timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts import CaseKind


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(Strict):
    pl: str
    en: str
    uk: str | None = None

    def get(self, language: str) -> str:
        value = getattr(self, language, None)
        return str(value) if value else self.pl


class UnitKind(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    CONTACT_CENTRE = "contact_centre"
    TRIAGE = "triage"


class Unit(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: Names
    kind: UnitKind
    district: str | None = None
    email: str | None = None
    api_key_holder: str | None = Field(default=None, description="Who holds the unit's API key")


class Event(Strict):
    code: str
    name: Names
    sla_hours: int | None = Field(default=None, ge=1)
    requires: list[Literal["location", "photo", "contact"]] | None = None
    external_codes: list[str] = Field(default_factory=list, description="Names used in legacy data")


class Subcategory(Strict):
    code: str
    name: Names
    sla_hours: int | None = Field(default=None, ge=1)
    requires: list[Literal["location", "photo", "contact"]] | None = None
    external_codes: list[str] = Field(default_factory=list, description="Names used in legacy data")
    events: list[Event] = Field(default_factory=list)


class Category(Strict):
    code: str
    name: Names
    kinds: list[CaseKind]
    sla_hours: int = Field(ge=1)
    requires: list[Literal["location", "photo", "contact"]] = Field(default_factory=list)
    subcategories: list[Subcategory] = Field(default_factory=list)


class District(Strict):
    name: str
    aliases: list[str] = Field(default_factory=list)
    centre: tuple[float, float] = Field(description="(lat, lon)")
    office_unit: str


class Bounds(Strict):
    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon


class City(Strict):
    name: str
    timezone: str
    contact_email: str
    public_status_url: str = Field(description="Template with {case_id} and {case_number}")
    bounds: Bounds
    max_distance_from_centre_km: float = Field(default=8.0, gt=0)
    boundaries_file: str | None = None
    district_name_property: str = "name"
    districts: list[District]


class Match(Strict):
    kind: CaseKind | None = None
    category: str | None = None
    subcategory: str | None = None
    event: str | None = None
    district: str | None = None


class Rule(Strict):
    id: str
    match: Match
    units: list[str] = Field(
        min_length=1, description="Candidates in order; 'district_office' = the district's"
    )
    requires_district: bool = False


class Routing(Strict):
    triage_unit: str
    rules: list[Rule]


class LeafEntry(Strict):
    """A catalogue leaf flattened: the path, its names, the SLA and what it requires."""

    code: str
    category: str
    subcategory: str | None
    event: str | None
    name: Names
    path_names: list[Names]
    kinds: list[CaseKind]
    sla: timedelta
    requires: list[str]


def fold(text: str) -> str:
    """Compare district names without case, diacritics, hyphens or spaces."""
    decomposed = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L"))
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch)).casefold()


class CityConfig(Strict):
    city: City
    units: list[Unit]
    catalogue: list[Category]
    routing: Routing

    @model_validator(mode="after")
    def _consistent(self) -> CityConfig:
        errors: list[str] = []
        unit_ids = [u.id for u in self.units]
        dupes = {u for u in unit_ids if unit_ids.count(u) > 1}
        if dupes:
            errors.append(f"units: duplicate ids {sorted(dupes)}")
        known = set(unit_ids)
        for d in self.city.districts:
            if d.office_unit not in known:
                errors.append(f"city.districts[{d.name}].office_unit: unknown unit {d.office_unit!r}")
        if self.routing.triage_unit not in known:
            errors.append(f"routing.triage_unit: unknown unit {self.routing.triage_unit!r}")
        codes: list[str] = []
        for cat in self.catalogue:
            codes.append(cat.code)
            for sub in cat.subcategories:
                codes.append(sub.code)
                codes.extend(e.code for e in sub.events)
        dup_codes = {c for c in codes if codes.count(c) > 1}
        if dup_codes:
            errors.append(f"catalogue: duplicate codes {sorted(dup_codes)}")
        district_names = {fold(d.name) for d in self.city.districts}
        for rule in self.routing.rules:
            for unit in rule.units:
                if unit != "district_office" and unit not in known:
                    errors.append(f"routing.rules[{rule.id}].units: unknown unit {unit!r}")
            for code in (rule.match.category, rule.match.subcategory, rule.match.event):
                if code is not None and code not in codes:
                    errors.append(f"routing.rules[{rule.id}].match: unknown catalogue code {code!r}")
            if rule.match.district is not None and fold(rule.match.district) not in district_names:
                errors.append(
                    f"routing.rules[{rule.id}].match.district: unknown district {rule.match.district!r}"
                )
        if errors:
            raise ValueError("; ".join(errors))
        return self
