"""Which events a resident hears about, and the words in Polish, English and Ukrainian."""

from __future__ import annotations

from contracts import CaseStatus, CaseStatusChanged

S = CaseStatus

# template -> language -> (subject, lead, push text). {number}, {unit} are filled in.
TEXTS: dict[str, dict[str, tuple[str, str, str]]] = {
    "confirmation": {
        "pl": (
            "Zgłoszenie {number} zostało przyjęte",
            "Dziękujemy. Twoje zgłoszenie otrzymało numer {number}.",
            "Przyjęto zgłoszenie {number}",
        ),
        "en": (
            "Your case {number} has been received",
            "Thank you. Your case has the number {number}.",
            "Case {number} received",
        ),
        "uk": (
            "Ваше звернення {number} прийнято",
            "Дякуємо. Вашому зверненню присвоєно номер {number}.",
            "Звернення {number} прийнято",
        ),
    },
    "routed": {
        "pl": (
            "Zgłoszenie {number} przekazane do: {unit}",
            "Twoje zgłoszenie trafiło do jednostki: {unit}.",
            "{number}: przekazano do {unit}",
        ),
        "en": (
            "Case {number} forwarded to {unit}",
            "Your case has been forwarded to: {unit}.",
            "{number}: forwarded to {unit}",
        ),
        "uk": (
            "Звернення {number} передано до: {unit}",
            "Ваше звернення передано до: {unit}.",
            "{number}: передано до {unit}",
        ),
    },
    "rerouted": {
        "pl": (
            "Zgłoszenie {number} przekazane do innej jednostki: {unit}",
            "Poprzednia jednostka nie jest właściwa; zgłoszenie trafiło do: {unit}.",
            "{number}: przekazano dalej do {unit}",
        ),
        "en": (
            "Case {number} passed on to {unit}",
            "The previous unit is not responsible; your case now lies with: {unit}.",
            "{number}: passed on to {unit}",
        ),
        "uk": (
            "Звернення {number} передано іншому підрозділу: {unit}",
            "Попередній підрозділ не є відповідальним; звернення передано до: {unit}.",
            "{number}: передано далі до {unit}",
        ),
    },
    "in_progress": {
        "pl": (
            "Zgłoszenie {number}: w trakcie realizacji",
            "Jednostka {unit} zajmuje się Twoim zgłoszeniem.",
            "{number}: w trakcie",
        ),
        "en": ("Case {number} is in progress", "{unit} is working on your case.", "{number}: in progress"),
        "uk": ("Звернення {number} в роботі", "{unit} працює над вашим зверненням.", "{number}: в роботі"),
    },
    "progress": {
        "pl": (
            "Zgłoszenie {number}: nowe informacje",
            "Są nowe informacje o Twoim zgłoszeniu.",
            "{number}: nowe informacje",
        ),
        "en": ("Case {number}: an update", "There is news about your case.", "{number}: an update"),
        "uk": (
            "Звернення {number}: оновлення",
            "Є нова інформація щодо вашого звернення.",
            "{number}: оновлення",
        ),
    },
    "closed": {
        "pl": (
            "Zgłoszenie {number} zostało zamknięte",
            "Twoje zgłoszenie zostało zamknięte.",
            "{number}: zamknięte",
        ),
        "en": ("Case {number} has been closed", "Your case has been closed.", "{number}: closed"),
        "uk": ("Звернення {number} закрито", "Ваше звернення закрито.", "{number}: закрито"),
    },
    "reopened": {
        "pl": (
            "Zgłoszenie {number}: reklamacja przyjęta",
            "Zgłoszenie jest ponownie w trakcie (Reklamowane).",
            "{number}: reklamacja przyjęta",
        ),
        "en": (
            "Case {number}: your dispute was accepted",
            "Your case is in progress again.",
            "{number}: dispute accepted",
        ),
        "uk": (
            "Звернення {number}: скаргу прийнято",
            "Ваше звернення знову в роботі.",
            "{number}: скаргу прийнято",
        ),
    },
    "duplicate": {
        "pl": (
            "Zgłoszenie {number} połączone z innym",
            "Ten sam problem zgłoszono wcześniej; sprawy połączono.",
            "{number}: połączone z innym zgłoszeniem",
        ),
        "en": (
            "Case {number} merged with another",
            "The same problem was reported before; the cases are merged.",
            "{number}: merged with another case",
        ),
        "uk": (
            "Звернення {number} об'єднано з іншим",
            "Про цю проблему вже повідомляли; звернення об'єднано.",
            "{number}: об'єднано з іншим",
        ),
    },
}

LABELS = {
    "pl": {
        "reported": "Zgłoszono",
        "note": "Informacja",
        "status": "Sprawdź status",
        "unsubscribe": "Nie chcesz tych wiadomości? Wypisz się",
        "resolution": "Rozstrzygnięcie",
        "city": "Warszawa 19115",
    },
    "en": {
        "reported": "You reported",
        "note": "Note",
        "status": "Check the status",
        "unsubscribe": "Don't want these messages? Unsubscribe",
        "resolution": "Resolution",
        "city": "Warsaw 19115",
    },
    "uk": {
        "reported": "Ви повідомили",
        "note": "Інформація",
        "status": "Перевірити статус",
        "unsubscribe": "Не хочете отримувати ці повідомлення? Відписатися",
        "resolution": "Рішення",
        "city": "Варшава 19115",
    },
}


def template_for(event: CaseStatusChanged) -> str | None:
    """The update a resident gets for a status change, or None when it does not concern them."""
    to, before = event.to_status, event.from_status
    if to is S.ROUTED:
        return "rerouted" if before is S.REJECTED else "routed"
    if to is S.IN_PROGRESS:
        return "progress" if before is S.IN_PROGRESS else "in_progress"
    if to in (S.CLOSED, S.REOPENED, S.DUPLICATE):
        return to.value
    return None  # new, triage (a consultant looks first), rejected (the re-routing will be told)


def language_of(value: str | None) -> str:
    return value if value in TEXTS["confirmation"] else "pl"
