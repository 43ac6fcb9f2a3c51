"""The transition table, as a pure function."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts import ActorKind, CaseStatus
from tracker.domain.lifecycle import LABELS, TRANSITIONS, StatusTransitionError, check_transition

S, A = CaseStatus, ActorKind
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "target", "actor"),
    [
        (S.NEW, S.ROUTED, A.SYSTEM),
        (S.NEW, S.TRIAGE, A.SYSTEM),
        (S.TRIAGE, S.ROUTED, A.CONSULTANT),
        (S.ROUTED, S.IN_PROGRESS, A.UNIT),
        (S.IN_PROGRESS, S.IN_PROGRESS, A.UNIT),
        (S.REJECTED, S.ROUTED, A.SYSTEM),
        (S.ROUTED, S.DUPLICATE, A.CONSULTANT),
        (S.REOPENED, S.IN_PROGRESS, A.UNIT),
    ],
)
def test_legal_transitions(current: CaseStatus, target: CaseStatus, actor: ActorKind) -> None:
    check_transition(current, target, actor)


@pytest.mark.parametrize(
    ("current", "target", "actor", "reason"),
    [
        (S.NEW, S.CLOSED, A.UNIT, "cannot become closed"),
        (S.CLOSED, S.IN_PROGRESS, A.UNIT, "cannot become in_progress"),
        (S.DUPLICATE, S.ROUTED, A.SYSTEM, "cannot become routed"),
        (S.ROUTED, S.IN_PROGRESS, A.RESIDENT, "is for unit, not resident"),
        (S.TRIAGE, S.ROUTED, A.UNIT, "not unit"),
        (S.CLOSED, S.REOPENED, A.UNIT, "not unit"),
    ],
)
def test_illegal_transitions_say_why(
    current: CaseStatus, target: CaseStatus, actor: ActorKind, reason: str
) -> None:
    with pytest.raises(StatusTransitionError, match=reason):
        check_transition(current, target, actor)


def test_closing_needs_a_note_and_rejecting_a_reason() -> None:
    with pytest.raises(StatusTransitionError, match="resolution note"):
        check_transition(S.IN_PROGRESS, S.CLOSED, A.UNIT, note="  ")
    with pytest.raises(StatusTransitionError, match="reason"):
        check_transition(S.ROUTED, S.REJECTED, A.UNIT)
    check_transition(S.IN_PROGRESS, S.CLOSED, A.UNIT, note="Naprawiono")


def test_residents_dispute_within_14_days_only() -> None:
    check_transition(S.CLOSED, S.REOPENED, A.RESIDENT, "nadal nie działa", NOW - timedelta(days=13), NOW)
    with pytest.raises(StatusTransitionError, match="within 14 days"):
        check_transition(S.CLOSED, S.REOPENED, A.RESIDENT, "nadal", NOW - timedelta(days=15), NOW)


def test_every_status_has_labels_in_three_languages_and_no_dead_ends_but_the_final_ones() -> None:
    for status in S:
        assert set(LABELS[status]) == {"pl", "en", "uk"}
    sources = {source for source, _ in TRANSITIONS}
    assert set(S) - sources == {S.DUPLICATE}
    assert LABELS[S.REOPENED]["pl"] == "Reklamowane - W trakcie"
    assert LABELS[S.IN_PROGRESS]["pl"] == "W trakcie"
