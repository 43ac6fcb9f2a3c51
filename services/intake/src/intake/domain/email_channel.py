"""An e-mail to the contact address becomes a case: which kind, which category, where (pure)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from intake.domain.emergency import fold

# (catalogue event, folded keyword stems) — an intervention needs one of these and an address
EVENT_KEYWORDS: list[tuple[str, tuple[str, ...]]] = [
    ("drogi.sygnalizacja", ("sygnalizac", "swiatla nie dzialaja", "traffic light", "світлофор")),
    ("drogi.nawierzchnia", ("dziura", "wyrwa", "ubytek w jezdni", "pothole", "вибоїн")),
    ("drogi.oblodzenie", ("oblodz", "gololedz", "nieodsniez", "icy", "ожеледиц")),
    ("drogi.parkowanie", ("zle zaparkowan", "parkuje na", "blokuje przejscie", "badly parked")),
    ("drogi.wraki", ("wrak", "porzucony samochod", "abandoned car")),
    ("smieci.gabaryty", ("gabaryt", "bulky waste")),
    ("smieci.przepelnienie", ("przepelnion", "overflowing")),
    ("smieci.wysypisko", ("wysypisk", "illegal dump", "звалищ")),
    ("porzadek.zwierzeta", ("martwy", "martwe zwierze", "bezdomny pies", "dead animal", "stray dog")),
    ("zielen.drzewo", ("zlamane drzewo", "zlamany konar", "fallen tree")),
    ("komunikacja.przystanek", ("przystan", "rozklad jazdy", "bus stop")),
]
PROPOSAL_WORDS = ("proponuj", "propozycj", "wniosek", "pomysl", "postulu", "suggest", "proposal", "пропону")
ADDRESS = re.compile(
    r"\b(?:ul\.|ulica|al\.|aleja|pl\.|plac|os\.)\s*[A-ZĄĆĘŁŃÓŚŹŻa-ząćęłńóśźż][\w .ąćęłńóśźżĄĆĘŁŃÓŚŹŻ-]{1,60}?"
    r"\s\d+[a-zA-Z]?(?:/\d+)?",
    re.UNICODE,
)


@dataclass(frozen=True)
class InboundMail:
    message_id: str
    sender: str
    sender_name: str | None
    subject: str
    body: str


def read_mail(message: EmailMessage, raw: bytes) -> InboundMail:
    part = message.get_body(preferencelist=("plain", "html"))
    body = part.get_content() if part is not None else ""
    if part is not None and part.get_content_type() == "text/html":
        body = re.sub(r"<[^>]+>", " ", body)
    body = "\n".join(line for line in body.splitlines() if not line.startswith(">")).strip()
    name, address = parseaddr(str(message.get("From", "")))
    message_id = str(message.get("Message-ID", "")).strip() or "sha256:" + hashlib.sha256(raw).hexdigest()
    return InboundMail(
        message_id=message_id[:200],
        sender=address,
        sender_name=name or None,
        subject=str(message.get("Subject", "")).strip(),
        body=body,
    )


def language_of(text: str) -> str:
    if re.search(r"[а-яіїєґ]", text.lower()):
        return "uk"
    if re.search(r"[ąćęłńóśźż]", text.lower()) or re.search(r"\b(prosz|dzie|jest|nie)\w*", text.lower()):
        return "pl"
    return "en"


def to_submission(mail: InboundMail) -> dict[str, Any]:
    """Kind decided by the message: an intervention when it names a known problem and an address, a proposal
    when it proposes, otherwise an information request for the consultants."""
    text = f"{mail.subject}\n{mail.body}".strip()
    folded = fold(text)
    description = (f"{mail.subject}\n\n{mail.body}" if mail.subject else mail.body).strip()[
        :4000
    ] or "(pusta wiadomość)"
    base: dict[str, Any] = {
        "description": description,
        "channel": "email",
        "language": language_of(text),
        "reporter": {"email": mail.sender, "name": mail.sender_name} if mail.sender else None,
    }
    address = ADDRESS.search(text)
    event = next((code for code, stems in EVENT_KEYWORDS if any(stem in folded for stem in stems)), None)
    if event and address:
        return {
            **base,
            "kind": "intervention",
            "category": event,
            "location": {"address": address.group(0).strip()},
        }
    if any(word in folded for word in PROPOSAL_WORDS):
        return {**base, "kind": "proposal", "category": "wnioski.ogolne"}
    return {**base, "kind": "information", "category": "informacja.ogolna"}
