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
        queued = 0
        # a case's creation is handled before its updates when both come in one batch
        ordered = sorted(batch, key=lambda d: 0 if isinstance(d.event, CaseCreated) else 1)
        async with self.pool.acquire() as conn, conn.transaction():
            await db.lock_cases(conn, [d.event.case_id for d in batch])
            rows = await conn.fetch(
                "INSERT INTO processed_events(event_id) SELECT unnest($1::uuid[]) "
                "ON CONFLICT DO NOTHING RETURNING event_id",
                [d.event.event_id for d in batch],
            )
            fresh = {r["event_id"] for r in rows}
            seen: set[UUID] = set()
            for d in ordered:
                if d.event.event_id not in fresh or d.event.event_id in seen:
                    DUPLICATE_EVENTS.inc()
                    continue
                seen.add(d.event.event_id)
                queued += await self._apply(conn, d.event)
        if queued and self.on_queued is not None:
            self.on_queued()

    async def _apply(self, conn: Any, event: Event) -> int:
        if isinstance(event, CaseCreated):
            recipient = await self._save_recipient(conn, event)
            count = await self._queue(conn, recipient, event, "confirmation", None, None)
            for payload in await conn.fetch(
                "DELETE FROM pending_events WHERE case_id = $1 RETURNING payload, occurred_at", event.case_id
            ):
                count += await self._apply(conn, CaseStatusChanged.model_validate(payload["payload"]))
            return count
        if isinstance(event, CaseStatusChanged):
            template = template_for(event)
            if template is None:
                return 0
            known = await self._recipient(conn, event.case_id)
            if known is None:
                await conn.execute(
                    "INSERT INTO pending_events(event_id, case_id, payload, occurred_at) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    event.event_id,
                    event.case_id,
                    event.model_dump(mode="json"),
                    event.occurred_at,
                )
                return 0
            unit = self.city.unit(event.unit_id) if event.unit_id else None
            unit_name = unit.name.get(known.language) if unit else (event.unit_id or "")
            return await self._queue(conn, known, event, template, event.public_note, unit_name)
        return 0

    async def _save_recipient(self, conn: Any, event: CaseCreated) -> Recipient:
        case = event.case
        reporter = case.reporter
        row = await conn.fetchrow(
            "INSERT INTO recipients(case_id, case_number, language, email, device_token, description, "
            " category_code, unsubscribe_token) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) "
            "ON CONFLICT (case_id) DO UPDATE SET case_number = EXCLUDED.case_number RETURNING *",
            event.case_id,
            case.case_number,
            language_of(case.language.value),
            str(reporter.email) if reporter and reporter.email else None,
            reporter.device_token if reporter else None,
            case.description,
            case.category.leaf if case.category else None,
            secrets.token_urlsafe(24),
        )
        return _recipient_of(row)

    async def _recipient(self, conn: Any, case_id: UUID) -> Recipient | None:
        row = await conn.fetchrow("SELECT * FROM recipients WHERE case_id = $1", case_id)
        return _recipient_of(row) if row else None

    async def _queue(
        self, conn: Any, r: Recipient, event: Event, template: str, note: str | None, unit_name: str | None
    ) -> int:
        if r.unsubscribed or not (r.email or r.device_token):
            return 0  # anonymous or unsubscribed: nothing to send, nothing fails
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
        added = await deliveries.add(conn, items)
        log.info(
            "notification queued",
            extra={
                "case_id": str(r.case_id),
                "correlation_id": event.correlation_id,
                "template": template,
                "channels": ",".join(i.channel for i in items),
            },
        )
        for item in items:
            QUEUED.labels(item.channel, template).inc()
        return added

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
