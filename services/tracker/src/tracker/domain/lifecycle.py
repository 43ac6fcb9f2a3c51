"""The status lifecycle of a case: labels residents see, and the table of legal transitions."""

from __future__ import annotations

from datetime import datetime, timedelta

from contracts import ActorKind, CaseStatus

S = CaseStatus

LABELS: dict[CaseStatus, dict[str, str]] = {
    S.NEW: {"pl": "Nowe", "en": "New", "uk": "Нове"},
    S.TRIAGE: {
        "pl": "Weryfikowane przez konsultanta",
        "en": "Being reviewed by a consultant",
        "uk": "Перевіряється консультантом",
    },
    S.ROUTED: {"pl": "Przekazane", "en": "Forwarded to the responsible unit", "uk": "Передано"},
    S.IN_PROGRESS: {"pl": "W trakcie", "en": "In progress", "uk": "В роботі"},
    S.CLOSED: {"pl": "Zamknięte", "en": "Closed", "uk": "Закрито"},
    S.REJECTED: {
        "pl": "Przekazywane dalej",
        "en": "Being forwarded to another unit",
        "uk": "Передається іншому підрозділу",
    },
    S.REOPENED: {
        "pl": "Reklamowane - W trakcie",
        "en": "Disputed - in progress again",
        "uk": "Оскаржено - знову в роботі",
    },
    S.DUPLICATE: {
        "pl": "Połączone z innym zgłoszeniem",
        "en": "Merged into another case",
        "uk": "Об'єднано з іншим зверненням",
    },
}

# (from, to) -> who may make it. The same status twice (in_progress -> in_progress) is a progress note.
TRANSITIONS: dict[tuple[CaseStatus, CaseStatus], frozenset[ActorKind]] = {}


def _allow(sources: list[CaseStatus], target: CaseStatus, *actors: ActorKind) -> None:
    for source in sources:
        TRANSITIONS[(source, target)] = frozenset(actors)


_A = ActorKind
_allow([S.NEW, S.REJECTED, S.REOPENED], S.ROUTED, _A.SYSTEM)
_allow([S.NEW, S.REJECTED], S.TRIAGE, _A.SYSTEM)
_allow([S.TRIAGE], S.ROUTED, _A.CONSULTANT, _A.SYSTEM)
_allow([S.ROUTED, S.REOPENED], S.TRIAGE, _A.CONSULTANT, _A.SYSTEM)
_allow([S.ROUTED, S.REOPENED], S.IN_PROGRESS, _A.UNIT)
_allow([S.IN_PROGRESS], S.IN_PROGRESS, _A.UNIT)
_allow([S.ROUTED, S.IN_PROGRESS, S.REOPENED], S.CLOSED, _A.UNIT)
_allow([S.TRIAGE], S.CLOSED, _A.CONSULTANT)
_allow([S.ROUTED, S.IN_PROGRESS, S.REOPENED], S.REJECTED, _A.UNIT)
_allow([S.CLOSED], S.REOPENED, _A.RESIDENT, _A.CONSULTANT)
_allow([S.NEW, S.TRIAGE, S.ROUTED, S.IN_PROGRESS, S.REOPENED], S.DUPLICATE, _A.CONSULTANT)

DISPUTE_WINDOW = timedelta(days=14)
TERMINAL_FOR_SLA = frozenset({S.CLOSED, S.DUPLICATE})


class StatusTransitionError(Exception):
    """An illegal transition; the message is the reason given to the caller (HTTP 409)."""


def check_transition(
    current: CaseStatus,
    target: CaseStatus,
    actor: ActorKind,
    note: str | None = None,
    closed_at: datetime | None = None,
    now: datetime | None = None,
) -> None:
    allowed = TRANSITIONS.get((current, target))
    if allowed is None:
        raise StatusTransitionError(f"a case that is {current.value} cannot become {target.value}")
    if actor not in allowed:
        who = ", ".join(sorted(a.value for a in allowed))
        raise StatusTransitionError(f"{current.value} -> {target.value} is for {who}, not {actor.value}")
    if target in (S.CLOSED, S.REJECTED) and not (note and note.strip()):
        what = "a resolution note the resident can read" if target is S.CLOSED else "a reason"
        raise StatusTransitionError(f"{target.value} needs {what}")
    if target is S.REOPENED and actor is ActorKind.RESIDENT:
        if closed_at is None or now is None:
            raise StatusTransitionError("the closure time is unknown")
        if now - closed_at > DISPUTE_WINDOW:
            raise StatusTransitionError(
                f"a closure can be disputed within {DISPUTE_WINDOW.days} days; this one was closed "
                f"on {closed_at.date().isoformat()}"
            )


def label(status: CaseStatus) -> dict[str, str]:
    return LABELS[status]
