"""The routing decision: a pure function of the case, the city's rules and the units that refused it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cityconfig import CityIndex, LeafEntry, Rule
from contracts import CaseDetails, CaseKind, DistrictSource
from router.domain.locate import DistrictLocator, Located

DISTRICT_OFFICE = "district_office"


class TriageReason(StrEnum):
    UNKNOWN_CATEGORY = "unknown_category"
    MISSING_LOCATION = "missing_location"
    OUTSIDE_CITY = "outside_city"
    NO_RULE = "no_rule"
    ALL_REJECTED = "all_candidates_rejected"


TRIAGE_TEXT = {
    TriageReason.UNKNOWN_CATEGORY: "category missing or not in the catalogue",
    TriageReason.MISSING_LOCATION: "no location, and this category needs one",
    TriageReason.OUTSIDE_CITY: "location outside the city",
    TriageReason.NO_RULE: "no routing rule matches this case",
    TriageReason.ALL_REJECTED: "every candidate unit rejected the case",
}


@dataclass(frozen=True)
class Decision:
    unit_id: str
    rule: str
    district: str | None
    district_source: DistrictSource
    sla: timedelta | None
    triage_reason: TriageReason | None = None

    @property
    def is_triage(self) -> bool:
        return self.triage_reason is not None

    def due(self, now: datetime) -> datetime | None:
        return now + self.sla if self.sla is not None else None


def _matches(rule: Rule, kind: CaseKind, leaf: LeafEntry | None, district: str | None) -> bool:
    m = rule.match
    if m.kind is not None and m.kind != kind:
        return False
    for wanted, actual in (
        (m.category, leaf.category if leaf else None),
        (m.subcategory, leaf.subcategory if leaf else None),
        (m.event, leaf.event if leaf else None),
    ):
        if wanted is not None and wanted != actual:
            return False
    return m.district is None or (district is not None and m.district == district)


def decide(
    case: CaseDetails, city: CityIndex, locator: DistrictLocator, excluded: Collection[str] = ()
) -> Decision:
    located: Located = locator.locate(case.location)
    district = located.district
    district_name = district.name if district else None
    leaf = city.leaf(case.category.leaf) if case.category is not None else None
    sla = leaf.sla if leaf is not None else None

    def triage(reason: TriageReason) -> Decision:
        return Decision(city.triage_unit, "triage", district_name, located.source, sla, reason)

    if case.category is not None and leaf is None:
        return triage(TriageReason.UNKNOWN_CATEGORY)
    if case.kind is CaseKind.INTERVENTION and leaf is None:
        return triage(TriageReason.UNKNOWN_CATEGORY)
    if located.outside_city:
        return triage(TriageReason.OUTSIDE_CITY)
    if leaf is not None and "location" in leaf.requires and district is None:
        return triage(TriageReason.MISSING_LOCATION)
    for rule in city.config.routing.rules:
        if not _matches(rule, case.kind, leaf, district_name):
            continue
        if rule.requires_district and district is None:
            continue
        for candidate in rule.units:
            unit_id = district.office_unit if candidate == DISTRICT_OFFICE and district else candidate
            if unit_id == DISTRICT_OFFICE or unit_id in excluded:
                continue
            return Decision(unit_id, rule.id, district_name, located.source, sla)
        return triage(TriageReason.ALL_REJECTED)
    return triage(TriageReason.NO_RULE)
