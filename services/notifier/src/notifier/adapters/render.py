"""Rendering messages with Jinja2 (autoescaped HTML, plain text)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from notifier.domain.messages import LABELS, TEXTS

_env = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    auto_reload=False,  # the templates ship with the code: no stat() of the file on every message
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    push: str


def render_case(
    template: str,
    language: str,
    *,
    number: str,
    unit: str,
    description: str | None,
    note: str | None,
    status_url: str,
    unsubscribe_url: str,
) -> Rendered:
    subject, lead, push = (part.format(number=number, unit=unit) for part in TEXTS[template][language])
    labels = LABELS[language]
    context: dict[str, Any] = {
        "language": language,
        "subject": subject,
        "lead": lead,
        "description": description,
        "note": note,
        "note_label": labels["resolution"] if template == "closed" else labels["note"],
        "labels": labels,
        "status_url": status_url,
        "unsubscribe_url": unsubscribe_url,
    }
    return Rendered(
        subject,
        _env.get_template("case.txt.j2").render(context),
        _env.get_template("case.html.j2").render(context),
        push,
    )


def render_alert(language: str, *, title: str, body: str, unsubscribe_url: str) -> Rendered:
    context = {
        "language": language,
        "title": title,
        "body": body,
        "labels": LABELS[language],
        "unsubscribe_url": unsubscribe_url,
    }
    return Rendered(
        title,
        _env.get_template("alert.txt.j2").render(context),
        _env.get_template("alert.html.j2").render(context),
        f"{title}: {body}"[:240],
    )
