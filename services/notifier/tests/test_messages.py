"""What residents hear, in which words."""

from __future__ import annotations

import uuid

import pytest

from contracts import Actor, ActorKind, CaseStatus, CaseStatusChanged
from notifier.adapters.render import render_alert, render_case
from notifier.domain.messages import TEXTS, template_for

S = CaseStatus


def change(before: CaseStatus | None, after: CaseStatus) -> CaseStatusChanged:
    return CaseStatusChanged(
        case_id=uuid.uuid4(),
        correlation_id="c",
        case_number="1/26",
        from_status=before,
        to_status=after,
        actor=Actor(kind=ActorKind.SYSTEM),
        sequence=2,
    )


@pytest.mark.parametrize(
    ("before", "after", "template"),
    [
        (S.NEW, S.ROUTED, "routed"),
        (S.REJECTED, S.ROUTED, "rerouted"),
        (S.TRIAGE, S.ROUTED, "routed"),
        (S.ROUTED, S.IN_PROGRESS, "in_progress"),
        (S.IN_PROGRESS, S.IN_PROGRESS, "progress"),
        (S.IN_PROGRESS, S.CLOSED, "closed"),
        (S.CLOSED, S.REOPENED, "reopened"),
        (S.ROUTED, S.DUPLICATE, "duplicate"),
        (S.NEW, S.TRIAGE, None),
        (S.ROUTED, S.REJECTED, None),
    ],
)
def test_which_changes_a_resident_hears_about(
    before: CaseStatus, after: CaseStatus, template: str | None
) -> None:
    assert template_for(change(before, after)) == template


def test_every_template_exists_in_three_languages() -> None:
    for template, languages in TEXTS.items():
        assert set(languages) == {"pl", "en", "uk"}, template


@pytest.mark.parametrize(
    ("language", "subject"),
    [
        ("pl", "Zgłoszenie 85130/26 zostało zamknięte"),
        ("en", "Case 85130/26 has been closed"),
        ("uk", "Звернення 85130/26 закрито"),
    ],
)
def test_closure_carries_the_resolution_note(language: str, subject: str) -> None:
    out = render_case(
        "closed",
        language,
        number="85130/26",
        unit="ZDM",
        description=None,
        note="Wymieniono <sterownik>",
        status_url="http://s/1",
        unsubscribe_url="http://u/1",
    )
    assert out.subject == subject
    assert "Wymieniono <sterownik>" in out.text
    assert "Wymieniono &lt;sterownik&gt;" in out.html  # escaped in HTML
    assert "http://u/1" in out.text
    assert "http://u/1" in out.html
    assert len(out.push) < 80


def test_alert_rendering() -> None:
    out = render_alert("en", title="Burst water main", body="Avoid Puławska", unsubscribe_url="http://u/2")
    assert out.subject == "Burst water main"
    assert "Avoid Puławska" in out.text
    assert "http://u/2" in out.html


@pytest.mark.parametrize(
    "subject",
    [
        "Zgłoszenie 12345/26 przyjęte — dziękujemy",
        "Ваше звернення 85130/26 прийнято до розгляду, дякуємо за повідомлення про проблему",
        "Case 1/26 received",
        "ż" * 100,
    ],
)
def test_subjects_are_rfc_2047_encoded_and_read_back_whole(subject: str) -> None:
    from email import policy
    from email.parser import BytesParser

    from notifier.adapters.senders import encoded_words

    value = encoded_words(subject)
    assert value.isascii()
    assert all(len(line) <= 78 for line in value.split("\r\n"))
    message = BytesParser(policy=policy.default).parsebytes(f"Subject: {value}\r\n\r\nx".encode())
    assert str(message["Subject"]) == subject
