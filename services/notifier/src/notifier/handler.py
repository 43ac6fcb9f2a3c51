"""Turns case events into deliveries in the log (the dispatcher sends them). Redelivered events add nothing:
the processed-event ids and each delivery's dedupe key decide."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prometheus_client import Counter

from cityconfig import CityIndex
from contracts import CaseCreated, CaseStatusChanged, Event
from notifier.adapters import deliveries
from notifier.adapters.deliveries import NewDelivery
from notifier.adapters.render import Rendered, render_case
from notifier.domain.messages import language_of, template_for
from notifier.settings import NotifierSettings
from servicekit import db
from servicekit.kafka import Delivery

log = logging.getLogger(__name__)

QUEUED = Counter(
    "cc_notifier_queued_total", "Notifications written to the delivery log", ["channel", "template"]
)
DUPLICATE_EVENTS = Counter("cc_notifier_duplicate_events_total", "Redelivered events ignored")


@dataclass
class Recipient:
    case_id: UUID
    case_number: str
    language: str
    email: str | None
    device_token: str | None
    description: str
    unsubscribe_token: str
    unsubscribed: bool


class NotifierHandler:
    def __init__(self, city: CityIndex, pool: Any, settings: NotifierSettings, on_queued: Any = None) -> None:
        self.city = city
        self.pool = pool
        self.settings = settings
        self.on_queued = on_queued

    async def handle(self, batch: list[Delivery]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await db.lock_and_claim(
                conn, [d.event.case_id for d in batch], [d.event.event_id for d in batch]
            )
            seen: set[UUID] = set()
            events: list[Event] = []
            for d in batch:
                if d.event.event_id not in fresh or d.event.event_id in seen:
                    DUPLICATE_EVENTS.inc()
                    continue
                seen.add(d.event.event_id)
                events.append(d.event)
            queued = await self.apply_batch(conn, events)
        if queued and self.on_queued is not None:
            self.on_queued()

    async def apply_batch(self, conn: Any, events: list[Event]) -> int:
        """A batch in a handful of statements, whatever its size: the new cases' recipients in one, the
        updates' recipients in one, every delivery in one. A case's creation comes before its updates."""
        recipients: dict[UUID, Recipient] = {}
        planned: list[tuple[Recipient, Event, str, str | None, str | None]] = []
        created = list({e.case_id: e for e in events if isinstance(e, CaseCreated)}.values())
        changes = [e for e in events if isinstance(e, CaseStatusChanged)]
        if created:
            recipients.update(await self._save_recipients(conn, created))
            planned += [(recipients[e.case_id], e, "confirmation", None, None) for e in created]
            parked = await conn.fetch(
                "DELETE FROM pending_events WHERE case_id = ANY($1::uuid[]) RETURNING payload, occurred_at",
                [e.case_id for e in created],
            )
            earlier = [
                CaseStatusChanged.model_validate(p["payload"])
                for p in sorted(parked, key=lambda p: p["occurred_at"])
            ]
            changes = earlier + changes
        relevant = [(e, t) for e in changes if (t := template_for(e)) is not None]
        missing = list({e.case_id for e, _ in relevant} - recipients.keys())
        if missing:
            for row in await conn.fetch("SELECT * FROM recipients WHERE case_id = ANY($1::uuid[])", missing):
                recipients[row["case_id"]] = _recipient_of(row)
        for event, template in relevant:
            known = recipients.get(event.case_id)
            if known is None:  # the update came before its case: parked until the case arrives
                await conn.execute(
                    "INSERT INTO pending_events(event_id, case_id, payload, occurred_at) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    event.event_id,
                    event.case_id,
                    event.model_dump(mode="json"),
                    event.occurred_at,
                )
                continue
            unit = self.city.unit(event.unit_id) if event.unit_id else None
            unit_name = unit.name.get(known.language) if unit else (event.unit_id or "")
            planned.append((known, event, template, event.public_note, unit_name))
        items: list[NewDelivery] = []
        for r, what, kind, note, label in planned:
            mine = self._items(r, what, kind, note, label)
            items += mine
            if mine:
                log.info(
                    "notification queued",
                    extra={
                        "case_id": str(r.case_id),
                        "correlation_id": what.correlation_id,
                        "template": kind,
                        "channels": ",".join(i.channel for i in mine),
                    },
                )
                for item in mine:
                    QUEUED.labels(item.channel, kind).inc()
        return await deliveries.add(conn, items)

    async def _save_recipients(self, conn: Any, events: list[CaseCreated]) -> dict[UUID, Recipient]:
        reporters = [e.case.reporter for e in events]
        rows = await conn.fetch(
            "INSERT INTO recipients(case_id, case_number, language, email, device_token, description, "
            " category_code, unsubscribe_token) "
            "SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
            " $7::text[], $8::text[]) "
            "ON CONFLICT (case_id) DO UPDATE SET case_number = EXCLUDED.case_number RETURNING *",
            [e.case_id for e in events],
            [e.case.case_number for e in events],
            [language_of(e.case.language.value) for e in events],
            [str(r.email) if r and r.email else None for r in reporters],
            [r.device_token if r else None for r in reporters],
            [e.case.description for e in events],
            [e.case.category.leaf if e.case.category else None for e in events],
            [secrets.token_urlsafe(24) for _ in events],
        )
        return {row["case_id"]: _recipient_of(row) for row in rows}

    def _items(
        self, r: Recipient, event: Event, template: str, note: str | None, unit_name: str | None
    ) -> list[NewDelivery]:
        if r.unsubscribed or not (r.email or r.device_token):
            return []  # anonymous or unsubscribed: nothing to send, nothing fails
        unsubscribe_url = (
            f"{self.settings.notifier_base_url.rstrip('/')}/v1/unsubscribe/{r.unsubscribe_token}"
        )
        status_url = f"{self.settings.public_base_url.rstrip('/')}/v1/public/cases/{r.case_id}"
        rendered = render_case(
            template,
            r.language,
            number=r.case_number,
            unit=unit_name or "",
            description=r.description if template == "confirmation" else None,
            note=note,
            status_url=status_url,
            unsubscribe_url=unsubscribe_url,
        )
        items = []
        if r.email:
            items.append(
                self._item(event, "email", r.email, template, r.language, rendered, unsubscribe_url, r)
            )
        if r.device_token:
            items.append(self._item(event, "push", r.device_token, template, r.language, rendered, None, r))
        return items

    @staticmethod
    def _item(
        event: Event,
        channel: str,
        recipient: str,
        template: str,
        language: str,
        rendered: Rendered,
        unsubscribe_url: str | None,
        r: Recipient,
    ) -> NewDelivery:
        push = channel == "push"
        return NewDelivery(
            dedupe_key=f"{event.event_id}:{channel}:{recipient}",
            channel=channel,
            recipient=recipient,
            template=template,
            language=language,
            subject=rendered.subject,
            body_text=rendered.push if push else rendered.text,
            body_html=None if push else rendered.html,
            message_id=f"<{event.event_id}.{channel}@notifier.19115>",
            event_time=event.occurred_at,
            case_id=r.case_id,
            unsubscribe_url=unsubscribe_url,
        )


def _recipient_of(row: Any) -> Recipient:
    return Recipient(
        case_id=row["case_id"],
        case_number=row["case_number"],
        language=row["language"],
        email=row["email"],
        device_token=row["device_token"],
        description=row["description"],
        unsubscribe_token=row["unsubscribe_token"],
        unsubscribed=row["unsubscribed"],
    )
