"""The e-mail channel: the kind is decided by the message; each message becomes one case."""

from __future__ import annotations

import asyncio
import smtplib
import uuid
from email.message import EmailMessage
from typing import Any

import pytest

from contracts import CaseCreated, decode
from devstack.testing import RunningService, Stack, free_port, watch
from intake.domain.email_channel import InboundMail, to_submission


def mail(subject: str, body: str) -> InboundMail:
    return InboundMail(
        message_id="<m@x>", sender="jan@example.org", sender_name="Jan", subject=subject, body=body
    )


@pytest.mark.parametrize(
    ("subject", "body", "kind", "category"),
    [
        ("Dziura w jezdni", "Na ul. Puławska 100 jest głęboka dziura.", "intervention", "drogi.nawierzchnia"),
        (
            "Gabaryty",
            "Przy altanie ul. Grójecka 17 leżą gabaryty od tygodnia",
            "intervention",
            "smieci.gabaryty",
        ),
        ("Dziura", "Jest dziura w jezdni, nie wiem gdzie dokładnie", "information", "informacja.ogolna"),
        ("Pomysł", "Proponuję postawić ławki w parku Skaryszewskim", "proposal", "wnioski.ogolne"),
        ("Pytanie", "Gdzie mogę wyrobić dowód osobisty?", "information", "informacja.ogolna"),
        ("Question", "Which office issues parking permits?", "information", "informacja.ogolna"),
    ],
)
def test_kind_from_the_message(subject: str, body: str, kind: str, category: str) -> None:
    fields = to_submission(mail(subject, body))
    assert (fields["kind"], fields["category"]) == (kind, category)
    assert fields["channel"] == "email"
    assert fields["reporter"] == {"email": "jan@example.org", "name": "Jan"}


def test_address_is_kept_and_language_guessed() -> None:
    fields = to_submission(mail("Dziura", "Dziura na ul. Puławska 100, proszę o naprawę"))
    assert fields["location"] == {"address": "ul. Puławska 100"}
    assert fields["language"] == "pl"
    assert to_submission(mail("Вибоїна", "Велика вибоїна"))["language"] == "uk"


def send(port: int, message: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.send_message(message)


def message(subject: str, body: str, message_id: str | None = None) -> EmailMessage:
    m = EmailMessage()
    m["From"] = "Anna Kowalska <anna.k@example.org>"
    m["To"] = "kontakt@um.warszawa.pl"
    m["Subject"] = subject
    m["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@example.org>"
    m.set_content(body)
    return m


@pytest.mark.integration
async def test_mail_becomes_one_case_and_an_emergency_bounces(
    stack: Stack, services: Any, fresh_db: Any
) -> None:
    port = free_port()
    intake: RunningService = await services(
        "intake", {"INTAKE_DATABASE_URL": await fresh_db("intake"), "INTAKE_MAIL_PORT": str(port)}
    )
    question = message("Pytanie o dowód", "Gdzie mogę wyrobić dowód osobisty?")
    pothole = message("Dziura", "Na ul. Puławska 100 jest dziura w jezdni.")
    async with watch(stack.kafka_bootstrap, "case.created") as watcher:
        await asyncio.to_thread(send, port, question)
        await asyncio.to_thread(send, port, question)  # the same message again (a retry)
        await asyncio.to_thread(send, port, pothole)
        with pytest.raises(smtplib.SMTPDataError) as bounced:
            await asyncio.to_thread(send, port, message("Pomocy", "Pożar w kamienicy, ludzie są ranni"))
        assert bounced.value.smtp_code == 550
        assert b"112" in bounced.value.smtp_error

        def mine(records: list[Any]) -> list[CaseCreated]:
            events = [decode(r.topic, r.value) for r in records]
            return [
                e
                for e in events
                if isinstance(e, CaseCreated)
                and e.case.reporter
                and e.case.reporter.email == "anna.k@example.org"
            ]

        await watcher.collect(lambda rs: len(mine(rs)) >= 2)
        await watcher.collect(lambda rs: False, timeout=2)
    cases = mine(watcher.records)
    assert sorted((c.case.kind.value, c.case.channel.value) for c in cases) == [
        ("information", "email"),
        ("intervention", "email"),
    ]
    intervention = next(c for c in cases if c.case.kind.value == "intervention")
    assert intervention.case.location is not None
    assert intervention.case.location.address == "ul. Puławska 100"
    assert intake.alive()
