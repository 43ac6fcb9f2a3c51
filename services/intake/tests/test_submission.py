"""Decisions about a submission, without I/O."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cityconfig import load_city
from intake.domain.submission import CaseSubmission, check_submission, format_case_number

CITY = load_city(Path(__file__).resolve().parents[3] / "deploy" / "config" / "warsaw")


def submission(**overrides: Any) -> CaseSubmission:
    data: dict[str, Any] = {
        "kind": "intervention",
        "category": "drogi.sygnalizacja",
        "channel": "mobile",
        "description": "Nie działa sygnalizacja",
        "location": {"lat": 52.2297, "lon": 21.0122},
    }
    data.update(overrides)
    return CaseSubmission.model_validate(data)


def reasons(sub: CaseSubmission) -> set[str]:
    return {p.reason for p in check_submission(sub, CITY)}


def test_a_complete_intervention_passes() -> None:
    assert reasons(submission()) == set()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"category": "no.such.code"}, "unknown_category"),
        ({"category": None}, "missing_category"),
        ({"location": None}, "missing_location"),
        ({"location": {"lat": 50.06, "lon": 19.94}}, "outside_city"),
        ({"location": {"lat": 52.23}}, "incomplete_coordinates"),
        ({"location": {"address": "ul. Prosta 1", "district": "Atlantyda"}}, "unknown_district"),
        ({"kind": "proposal"}, "category_kind_mismatch"),
        ({"emergency_override": True}, "override_without_consultant"),
    ],
)
def test_each_problem_is_named(overrides: dict[str, Any], reason: str) -> None:
    assert reason in reasons(submission(**overrides))


def test_proposals_and_information_need_no_category_or_location() -> None:
    assert reasons(submission(kind="proposal", category=None, location=None)) == set()
    assert reasons(submission(kind="information", category=None, location=None)) == set()


def test_an_address_is_enough_for_a_location() -> None:
    assert (
        reasons(submission(location={"address": "ul. Marszałkowska 10", "district": "Praga Północ"})) == set()
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"description": ""},
        {"description": "   "},
        {"description": "x" * 4001},
        {"description": "a\x00b"},
        {"photos": ["https://e.org/1.jpg"] * 6},
        {"photos": ["not a url"]},
        {"channel": "pigeon"},
        {"kind": "complaint"},
        {"reporter": {"email": "not-an-email"}},
        {"language": "de"},
        {"unexpected": 1},
    ],
)
def test_schema_refuses_bad_fields(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        submission(**bad)


def test_fingerprint_is_stable_and_sensitive() -> None:
    assert submission().fingerprint() == submission().fingerprint()
    assert submission().fingerprint() != submission(description="Inny opis").fingerprint()


def test_case_number_format() -> None:
    assert format_case_number(85130, 2019) == "85130/19"
    assert format_case_number(7, 2026) == "7/26"
