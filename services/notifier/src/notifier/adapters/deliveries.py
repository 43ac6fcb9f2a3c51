"""The delivery log: what is to be sent, claimed by one sender at a time, sent at most once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass
class NewDelivery:
    dedupe_key: str
    channel: str
    recipient: str
    template: str
    language: str
    subject: str
    body_text: str
    body_html: str | None
    message_id: str
    event_time: datetime
    unsubscribe_url: str | None = None
    case_id: UUID | None = None
    alert_id: UUID | None = None
    priority: int = 0


async def add(conn: Any, items: list[NewDelivery]) -> int:
    """Insert deliveries; a (event, channel, recipient) already logged is ignored."""
    if not items:
        return 0
    rows = await conn.fetch(
        "INSERT INTO deliveries(dedupe_key, channel, recipient, template, language, subject, body_text, "
        " body_html, message_id, event_time, case_id, alert_id, priority, unsubscribe_url) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
        " $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::uuid[], $12::uuid[], $13::smallint[], "
        " $14::text[]) "
        "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        [i.dedupe_key for i in items],
        [i.channel for i in items],
        [i.recipient for i in items],
        [i.template for i in items],
        [i.language for i in items],
        [i.subject for i in items],
        [i.body_text for i in items],
        [i.body_html for i in items],
        [i.message_id for i in items],
        [i.event_time for i in items],
        [i.case_id for i in items],
        [i.alert_id for i in items],
        [i.priority for i in items],
        [i.unsubscribe_url for i in items],
    )
    return len(rows)


async def claim(conn: Any, limit: int, sender: str, channels: list[str]) -> list[dict[str, Any]]:
    """Mark due deliveries as 'sending' for this sender (SKIP LOCKED: two instances never share one);
    each is marked 'sent' as soon as the server accepted it."""
    rows = await conn.fetch(
        "UPDATE deliveries SET status = 'sending', claimed_at = now(), claimed_by = $2, attempts = attempts + 1 "
        "WHERE id IN ("
        " SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= now() "
        " AND channel = ANY($3::text[]) "
        " ORDER BY priority, next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) "
        "RETURNING id, channel, recipient, template, subject, body_text, body_html, message_id, case_id, "
        " alert_id, attempts, event_time, priority, unsubscribe_url",
        limit,
        sender,
        channels,
    )
    return sorted((dict(r) for r in rows), key=lambda r: (r["priority"], r["id"]))


async def mark_sent(conn: Any, ids: list[int]) -> None:
    if ids:
        await conn.execute(
            "UPDATE deliveries SET status = 'sent', sent_at = now(), last_error = NULL "
            "WHERE id = ANY($1::bigint[])",
            ids,
        )


async def mark_retry(conn: Any, delivery_id: int, error: str, delay_s: float) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'pending', last_error = $2, "
        "next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1",
        delivery_id,
        error[:1000],
        delay_s,
    )


async def mark_failed(conn: Any, delivery_id: int, error: str) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'failed', last_error = $2 WHERE id = $1", delivery_id, error[:1000]
    )


async def release_stale(conn: Any, older_than_s: float, sender: str | None = None) -> int:
    """Deliveries left 'sending' by a sender that died go back to pending. Each success is recorded within
    a database round trip, so only the messages in flight at the crash, or accepted in its last moment,
    can go out twice (with the same Message-ID)."""
    result: str = await conn.execute(
        "UPDATE deliveries SET status = 'pending', last_error = 'sender stopped; resumed' "
        "WHERE status = 'sending' AND (claimed_at < now() - make_interval(secs => $1) OR claimed_by = $2)",
        older_than_s,
        sender,
    )
    return int(result.split()[-1])


async def release(conn: Any, ids: list[int], error: str) -> None:
    """Give claimed deliveries back untried (the channel is down); the attempt does not count."""
    if ids:
        await conn.execute(
            "UPDATE deliveries SET status = 'pending', attempts = attempts - 1, last_error = $2 "
            "WHERE id = ANY($1::bigint[])",
            ids,
            error[:1000],
        )


async def pending_count(conn: Any) -> int:
    """Each status counted over its own partial index (one count over both read the whole table)."""
    return int(
        await conn.fetchval(
            "SELECT (SELECT count(*) FROM deliveries WHERE status = 'pending') "
            "+ (SELECT count(*) FROM deliveries WHERE status = 'sending')"
        )
    )


async def anonymise(conn: Any, case_ids: list[UUID]) -> int:
    """Forget the reporter's addresses and what was sent to them for finished cases (retention)."""
    result: str = await conn.execute(
        "UPDATE recipients SET email = NULL, device_token = NULL, description = '', unsubscribed = true "
        "WHERE case_id = ANY($1::uuid[]) AND (email IS NOT NULL OR device_token IS NOT NULL)",
        case_ids,
    )
    await conn.execute(
        "UPDATE deliveries SET recipient = 'anonymised', subject = '', body_text = '', body_html = NULL, "
        "unsubscribe_url = NULL WHERE case_id = ANY($1::uuid[]) AND status IN ('sent', 'failed') "
        "AND recipient <> 'anonymised'",
        case_ids,
    )
    return int(result.split()[-1])
