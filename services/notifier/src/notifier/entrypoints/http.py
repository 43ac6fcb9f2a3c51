"""Subscriptions (residents), city alerts (operators), unsubscribe links (every message)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from fastapi.responses import PlainTextResponse
from pydantic import AwareDatetime, BaseModel, BeforeValidator, EmailStr, Field, model_validator

from contracts import Language
from notifier.adapters import deliveries
from notifier.adapters.deliveries import NewDelivery
from notifier.adapters.render import render_alert
from notifier.service import NotifierContext
from servicekit.params import iso_only
from servicekit.problems import ProblemError

router = APIRouter(prefix="/v1")


def _ctx(request: Request) -> NotifierContext:
    ctx: NotifierContext = request.app.state.notifier
    return ctx


class SubscriptionIn(BaseModel):
    email: EmailStr | None = None
    device_token: str | None = Field(default=None, max_length=4096)
    districts: list[str] = Field(default_factory=list, max_length=50, description="Empty: the whole city")
    language: Language = Language.PL

    @model_validator(mode="after")
    def _one_address(self) -> SubscriptionIn:
        if bool(self.email) == bool(self.device_token):
            raise ValueError("give either email or device_token")
        return self


class SubscriptionOut(BaseModel):
    subscription_id: uuid.UUID
    districts: list[str]
    unsubscribe_url: str


class AlertIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=4000)
    severity: Literal["info", "warning", "danger"] = "warning"
    districts: list[str] = Field(default_factory=list, max_length=50, description="Empty: the whole city")
    expires_at: Annotated[AwareDatetime, BeforeValidator(iso_only)]


class AlertOut(BaseModel):
    alert_id: uuid.UUID
    recipients: int


def _canonical_districts(ctx: NotifierContext, names: list[str]) -> list[str]:
    out = []
    for name in names:
        district = ctx.city.district(name)
        if district is None:
            raise ProblemError(
                422,
                "Invalid request",
                f"unknown district {name!r}",
                "validation",
                errors=[{"field": "districts", "message": f"unknown district {name!r}"}],
            )
        out.append(district.name)
    return sorted(set(out))


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=SubscriptionOut,
    tags=["alerts"],
    summary="Subscribe an e-mail or a device to city alerts for some districts",
)
async def subscribe(request: Request, body: SubscriptionIn) -> SubscriptionOut:
    ctx = _ctx(request)
    districts = _canonical_districts(ctx, body.districts)
    channel, address = ("email", str(body.email)) if body.email else ("push", str(body.device_token))
    async with ctx.pool.acquire() as conn:
        row = await conn.fetchrow(
            "INSERT INTO subscriptions(id, channel, address, districts, language, unsubscribe_token) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (channel, address) DO UPDATE SET "
            "districts = EXCLUDED.districts, language = EXCLUDED.language, active = true "
            "RETURNING id, unsubscribe_token",
            uuid.uuid4(),
            channel,
            address,
            districts,
            body.language.value,
            secrets.token_urlsafe(24),
        )
    return SubscriptionOut(
        subscription_id=row["id"],
        districts=districts,
        unsubscribe_url=ctx.unsubscribe_url(row["unsubscribe_token"]),
    )


@router.get(
    "/unsubscribe/{token}",
    response_class=PlainTextResponse,
    tags=["alerts"],
    summary="The link in every message: stop these messages",
    responses={404: {"description": "Unknown link"}},
)
async def unsubscribe(request: Request, token: Annotated[str, Field(max_length=100)]) -> PlainTextResponse:
    ctx = _ctx(request)
    async with ctx.pool.acquire() as conn:
        done = await conn.fetchval(
            "UPDATE subscriptions SET active = false WHERE unsubscribe_token = $1 RETURNING 1", token
        )
        done = done or await conn.fetchval(
            "UPDATE recipients SET unsubscribed = true WHERE unsubscribe_token = $1 RETURNING 1", token
        )
    if not done:
        raise ProblemError(404, "Unknown unsubscribe link", type_="not-found")
    return PlainTextResponse("Wypisano. / Unsubscribed. / Відписано.\n")


def _require_operator(ctx: NotifierContext, key: str | None) -> str:
    digest = hashlib.sha256((key or "").encode()).hexdigest()
    for allowed in ctx.operator_key_hashes:
        if key and hmac.compare_digest(allowed, digest):
            return allowed[:8]
    raise ProblemError(
        401 if not key else 403, "Operator key required", "Send an operator's X-API-Key.", "unauthorized"
    )


@router.post(
    "/alerts",
    status_code=201,
    response_model=AlertOut,
    tags=["alerts"],
    summary="Post a city alert; every matching subscriber gets it once",
    responses={401: {"description": "No key"}, 403: {"description": "Not an operator key"}},
)
async def post_alert(
    request: Request,
    body: AlertIn,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key", max_length=200)] = None,
) -> AlertOut:
    ctx = _ctx(request)
    operator = _require_operator(ctx, x_api_key)
    if body.expires_at <= datetime.now(UTC):
        raise ProblemError(
            422,
            "Invalid request",
            "expires_at is in the past",
            "validation",
            errors=[{"field": "expires_at", "message": "must be in the future"}],
        )
    districts = _canonical_districts(ctx, body.districts)
    alert_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with ctx.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO alerts(alert_id, title, body, severity, districts, expires_at, created_by) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            alert_id,
            body.title,
            body.body,
            body.severity,
            districts,
            body.expires_at,
            f"operator:{operator}",
        )
        subscribers = await conn.fetch(
            "SELECT channel, address, language, unsubscribe_token FROM subscriptions WHERE active AND "
            "(cardinality(districts) = 0 OR cardinality($1::text[]) = 0 OR districts && $1::text[])",
            districts,
        )
        items: list[NewDelivery] = []
        for s in subscribers:
            url = ctx.unsubscribe_url(s["unsubscribe_token"])
            rendered = render_alert(s["language"], title=body.title, body=body.body, unsubscribe_url=url)
            push = s["channel"] == "push"
            items.append(
                NewDelivery(
                    dedupe_key=f"{alert_id}:{s['channel']}:{s['address']}",
                    channel=s["channel"],
                    recipient=s["address"],
                    template=f"alert_{body.severity}",
                    language=s["language"],
                    subject=rendered.subject,
                    body_text=rendered.push if push else rendered.text,
                    body_html=None if push else rendered.html,
                    message_id=f"<{alert_id}.{uuid.uuid4().hex[:8]}@notifier.19115>",
                    event_time=now,
                    alert_id=alert_id,
                    priority=1,
                    unsubscribe_url=None if push else url,
                )
            )
        for start in range(0, len(items), 1000):
            await deliveries.add(conn, items[start : start + 1000])
    ctx.dispatcher.notify()
    return AlertOut(alert_id=alert_id, recipients=len(items))


@router.get("/alerts", tags=["alerts"], summary="Alerts in force")
async def active_alerts(request: Request) -> list[dict[str, Any]]:
    async with _ctx(request).pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT alert_id, title, body, severity, districts, expires_at, created_at "
            "FROM alerts WHERE expires_at > now() ORDER BY created_at DESC LIMIT 100"
        )
    return [dict(r) for r in rows]
