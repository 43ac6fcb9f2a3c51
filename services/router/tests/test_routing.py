"""The routing decision over the Warsaw rules, and district location against the real polygons."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cityconfig import load_city
from contracts import CaseDetails, DistrictSource
from router.domain.locate import DistrictLocator
from router.domain.routing import TriageReason, decide

ROOT = Path(__file__).resolve().parents[3]
WARSAW = ROOT / "deploy" / "config" / "warsaw"
SHARED = ROOT.parent / "shared" / "data"
CITY_POLY = load_city(WARSAW, boundaries_file=SHARED / "warsaw-districts.geojson")
CITY_NO_POLY = load_city(WARSAW)
POLY = DistrictLocator(CITY_POLY)
CENTRES = DistrictLocator(CITY_NO_POLY)

MOKOTOW = (52.1931, 21.0346)
PRAGA_PLD = (52.2394, 21.0846)


def case(
    kind: str = "intervention",
    event: str | None = "drogi.sygnalizacja",
    lat: float | None = MOKOTOW[0],
    lon: float | None = MOKOTOW[1],
    district: str | None = None,
) -> CaseDetails:
    leaf = CITY_POLY.leaf(event) if event else None
    category = (
        {"category": leaf.category, "subcategory": leaf.subcategory, "event": leaf.event}
        if leaf
        else ({"category": "nieznana", "event": event} if event else None)
    )
    location: dict[str, Any] | None = {"lat": lat, "lon": lon, "district": district}
    if lat is None and district is None:
        location = None
    return CaseDetails.model_validate(
        {
            "case_number": "1/26",
            "kind": kind,
            "category": category,
            "description": "opis",
            "channel": "portal",
            "location": location,
            "received_at": datetime.now(UTC),
        }
    )


@pytest.mark.parametrize(
    ("event", "unit", "rule"),
    [
        ("smieci.gabaryty", "bgok", "waste-city-wide"),
        ("smieci.przepelnienie", "bgok", "waste-city-wide"),
        ("smieci.wysypisko", "straz-miejska", "waste-illegal-dump"),
        ("drogi.parkowanie", "straz-miejska", "roads-parking"),
        ("drogi.wraki", "straz-miejska", "roads-wrecks"),
        ("drogi.sygnalizacja", "zdm", "roads-traffic-lights"),
        ("komunikacja.przystanek", "ztm", "transport"),
        ("komunikacja.biletomat", "ztm", "transport"),
        ("zielen.interwencja", "zarzad-zieleni", "greenery"),
        ("zielen.las", "lasy-miejskie", "forests"),
        ("drogi.nawierzchnia", "ud-mokotow", "roads-local-surface"),
        ("drogi.oblodzenie", "ud-mokotow", "roads-ice"),
        ("porzadek.zwierzeta", "straz-miejska", "order-animals"),
    ],
)
def test_warsaw_rules(event: str, unit: str, rule: str) -> None:
    decision = decide(case(event=event), CITY_POLY, POLY)
    assert (decision.unit_id, decision.rule) == (unit, rule)
    assert decision.district == "Mokotów"
    assert decision.district_source is DistrictSource.POLYGON
    assert decision.sla is not None


def test_pothole_goes_to_the_office_of_the_district_it_is_in() -> None:
    decision = decide(case(event="drogi.nawierzchnia", lat=PRAGA_PLD[0], lon=PRAGA_PLD[1]), CITY_POLY, POLY)
    assert decision.unit_id == "ud-praga-poludnie"


def test_information_requests_go_to_the_contact_centre_desk() -> None:
    decision = decide(case(kind="information", event=None, lat=None, lon=None), CITY_POLY, POLY)
    assert (decision.unit_id, decision.rule) == ("mck", "information-desk")


def test_proposals_go_to_the_district_when_located_else_the_city() -> None:
    located = decide(case(kind="proposal", event="wnioski.ogolne"), CITY_POLY, POLY)
    assert located.unit_id == "ud-mokotow"
    anywhere = decide(case(kind="proposal", event="wnioski.ogolne", lat=None, lon=None), CITY_POLY, POLY)
    assert anywhere.unit_id == "mck"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"event": "nie.ma.takiego"}, TriageReason.UNKNOWN_CATEGORY),
        ({"event": None}, TriageReason.UNKNOWN_CATEGORY),
        ({"lat": 50.0614, "lon": 19.9366}, TriageReason.OUTSIDE_CITY),
        ({"lat": None, "lon": None}, TriageReason.MISSING_LOCATION),
        ({"event": "inne.zdarzenie"}, TriageReason.NO_RULE),
    ],
)
def test_unplaceable_cases_go_to_triage_with_the_reason(kwargs: dict[str, Any], reason: TriageReason) -> None:
    decision = decide(case(**kwargs), CITY_POLY, POLY)
    assert decision.unit_id == "triage"
    assert decision.triage_reason is reason


def test_a_point_in_the_box_but_outside_the_polygons_is_not_guessed() -> None:
    # inside Warsaw's bounding box, west of Ursus: outside every district polygon
    decision = decide(case(lat=52.10, lon=20.86), CITY_POLY, POLY)
    assert decision.triage_reason is TriageReason.OUTSIDE_CITY


def test_rejections_move_to_the_next_candidate_then_triage() -> None:
    first = decide(case(event="drogi.nawierzchnia"), CITY_POLY, POLY)
    second = decide(case(event="drogi.nawierzchnia"), CITY_POLY, POLY, excluded={first.unit_id})
    third = decide(
        case(event="drogi.nawierzchnia"), CITY_POLY, POLY, excluded={first.unit_id, second.unit_id}
    )
    assert [first.unit_id, second.unit_id, third.unit_id] == ["ud-mokotow", "zdm", "triage"]
    assert third.triage_reason is TriageReason.ALL_REJECTED


def test_without_polygons_channel_district_then_nearest_centre() -> None:
    by_channel = CENTRES.locate(case(district="Praga Południe").location)
    assert by_channel.district is not None
    assert by_channel.district.name == "Praga-Południe"
    assert by_channel.source is DistrictSource.CHANNEL
    nearest = CENTRES.locate(case().location)
    assert nearest.district is not None
    assert nearest.district.name == "Mokotów"
    assert nearest.source is DistrictSource.NEAREST_CENTRE
    assert CENTRES.locate(case(lat=50.06, lon=19.94).location).outside_city
    assert "nearest centre" in CENTRES.mode
    assert POLY.mode == "polygons"


def _records() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((SHARED / "19115-notifications-api-2019.json").read_text())
    return data


def test_every_located_2019_record_lands_in_the_district_the_city_recorded() -> None:
    checked = 0
    for record in _records():
        lat, lon, recorded = record["yCoordWGS84"], record["xCoordWGS84"], record["district"]
        if not lat or not lon or not recorded:
            continue
        located = POLY.locate(case(lat=lat, lon=lon).location)
        expected = CITY_POLY.district(recorded)
        assert expected is not None, recorded
        assert located.district is not None, record["notificationNumber"]
        assert located.district.name == expected.name, record["notificationNumber"]
        checked += 1
    assert checked >= 70


def test_every_located_2019_record_is_routed_somewhere_real() -> None:
    for record in _records():
        lat, lon = record["yCoordWGS84"], record["xCoordWGS84"]
        if not lat or not lon:
            continue
        decision = decide(case(event="smieci.gabaryty", lat=lat, lon=lon), CITY_POLY, POLY)
        assert decision.unit_id == "bgok"
