"""HTTP API of intake: POST /v1/cases, GET /v1/categories."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import BaseModel, Field, ValidationError

from contracts import CaseCreated, CaseKind, Channel
from intake.adapters import repository
from intake.domain.emergency import RULE_IDS, detect_emergency
from intake.domain.submission import (
    CaseSubmission,
    build_case,
    check_submission,
    format_case_number,
    problem_fields,
)
from intake.service import IntakeContext, context
from servicekit.logs import log_context
from servicekit.problems import ProblemError

log = logging.getLogger(__name__)

ACCEPTED = Counter("cc_intake_cases_accepted_total", "Cases accepted", ["channel", "kind"])
EMERGENCIES = Counter(
    "cc_intake_emergencies_refused_total", "Submissions refused as emergencies (112)", ["channel", "rule"]
)
OVERRIDES = Counter(
    "cc_intake_emergency_overrides_total", "Emergency refusals overridden by a consultant", ["rule"]
)
INVALID = Counter("cc_intake_validation_failures_total", "Submissions refused as invalid", ["reason"])

EMERGENCY_MESSAGE = {
    "pl": "To zgłoszenie wygląda na zagrożenie życia lub zdrowia. Zadzwoń teraz pod numer alarmowy 112.",
    "en": "This looks like a threat to life or health. Call the emergency number 112 now.",
    "uk": "Це схоже на загрозу життю або здоров'ю. Негайно телефонуйте на номер екстреної допомоги 112.",
}

router = APIRouter(prefix="/v1", tags=["cases"])

for _channel in Channel:  # bounded label sets exist at zero from the start
    for _rule in RULE_IDS:
        EMERGENCIES.labels(_channel.value, _rule)


async def require_json(request: Request) -> None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        INVALID.labels("content_type").inc()
        raise ProblemError(
            415,
            "Unsupported media type",
            f"Send the case as application/json (got {content_type or 'nothing'}).",
            "unsupported-media-type",
        )


class CaseAccepted(BaseModel):
    case_id: str = Field(examples=["4c1b7f0e-8a7e-4a52-9a4b-7f4f7d1c2e11"])
    case_number: str = Field(examples=["85130/26"])
    status: str = Field(examples=["new"])
    received_at: datetime
    status_url: str
    secret: str = Field(description="Keep it: it proves the case is yours (e.g. to dispute a closure)")


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseAccepted,
    dependencies=[Depends(require_json)],
    summary="Submit a case (intervention, proposal or information request)",
    responses={
        409: {"description": "Idempotency-Key reused with a different body"},
        413: {"description": "Body too large"},
        415: {"description": "Not application/json"},
        422: {"description": "Invalid fields, or an emergency (call 112)"},
    },
)
async def submit_case(
    request: Request,
    submission: CaseSubmission,
    idempotency_key: Annotated[str | None, Header(max_length=200, alias="Idempotency-Key")] = None,
    x_correlation_id: Annotated[str | None, Header(max_length=128, alias="X-Correlation-ID")] = None,
) -> JSONResponse:
    ctx = context(request)
    correlation_id = x_correlation_id or str(uuid4())
    with log_context(correlation_id=correlation_id):
        return await accept(ctx, submission, idempotency_key, correlation_id)


async def accept(
    ctx: IntakeContext, submission: CaseSubmission, idempotency_key: str | None, correlation_id: str
) -> JSONResponse:
    """Validate, refuse emergencies, number, store with its outbox record; 201 only after the commit."""
    problems = check_submission(submission, ctx.city)
    if problems:
        for p in problems:
            INVALID.labels(p.reason).inc()
        raise ProblemError(
            422,
            "Invalid request",
            "Invalid fields: " + ", ".join(p.field for p in problems),
            "validation",
            errors=problem_fields(problems),
        )
    emergency = detect_emergency(
        submission.description, submission.location.address if submission.location else None
    )
    if emergency is not None:
        if submission.emergency_override:
            OVERRIDES.labels(emergency.rule).inc()
            log.warning(
                "emergency check overridden by consultant",
                extra={"rule": emergency.rule, "consultant_id": submission.consultant_id},
            )
        else:
            EMERGENCIES.labels(submission.channel.value, emergency.rule).inc()
            log.warning(
                "emergency refused: caller told to dial 112",
                extra={"rule": emergency.rule, "channel": submission.channel.value},
            )
            raise ProblemError(
                422,
                "Emergency: call 112",
                EMERGENCY_MESSAGE[submission.language.value],
                "emergency",
                call="112",
                rule=emergency.rule,
                messages=EMERGENCY_MESSAGE,
            )
    idem = (idempotency_key, submission.fingerprint()) if idempotency_key else None
    received_at = datetime.now(UTC)
    year = received_at.astimezone(ctx.timezone).year
    case_number = format_case_number(await ctx.numbers.take(ctx.pool, year), year)
    case_id = uuid4()
    secret = secrets.token_urlsafe(24)
    case = build_case(
        submission,
        ctx.city,
        case_id,
        case_number,
        received_at,
        hashlib.sha256(secret.encode()).hexdigest(),
    )
    event = CaseCreated(case_id=case_id, correlation_id=correlation_id, occurred_at=received_at, case=case)
    body: dict[str, Any] = {
        "case_id": str(case_id),
        "case_number": case_number,
        "status": "new",
        "received_at": received_at.isoformat(),
        "status_url": ctx.status_url(str(case_id)),
        "secret": secret,
    }
    earlier = await ctx.writer.store(repository.NewCase(event, body, idem))
    if earlier is not None:
        assert idem is not None  # an earlier answer exists only for an Idempotency-Key
        return _replay(earlier, idem[1])
    ctx.relay.notify()
    ACCEPTED.labels(submission.channel.value, submission.kind.value).inc()
    with log_context(case_id=case_id):
        log.info(
            "case accepted",
            extra={
                "case_number": case_number,
                "channel": submission.channel.value,
                "kind": submission.kind.value,
            },
        )
    return JSONResponse(body, status_code=201, headers={"Location": body["status_url"]})


def _replay(earlier: repository.StoredAnswer, fingerprint: str) -> JSONResponse:
    if earlier.request_hash != fingerprint:
        INVALID.labels("idempotency_conflict").inc()
        raise ProblemError(
            409,
            "Idempotency-Key reused",
            "This Idempotency-Key was used with a different body.",
            "idempotency-conflict",
        )
    return JSONResponse(
        earlier.response,
        status_code=201,
        headers={"Idempotent-Replayed": "true", "Location": earlier.response["status_url"]},
    )


@router.get("/categories", summary="The catalogue a channel needs to build its form")
async def categories(request: Request) -> dict[str, Any]:
    ctx = context(request)
    cats = []
    for cat in ctx.city.config.catalogue:
        leaf = ctx.city.leaf(cat.code)
        assert leaf is not None
        subs = []
        for sub in cat.subcategories:
            sub_leaf = ctx.city.leaf(sub.code)
            assert sub_leaf is not None
            events = []
            for ev in sub.events:
                ev_leaf = ctx.city.leaf(ev.code)
                assert ev_leaf is not None
                events.append(
                    {
                        "code": ev.code,
                        "names": ev.name.model_dump(),
                        "requires": ev_leaf.requires,
                        "sla_hours": int(ev_leaf.sla.total_seconds() // 3600),
                    }
                )
            subs.append(
                {
                    "code": sub.code,
                    "names": sub.name.model_dump(),
                    "requires": sub_leaf.requires,
                    "sla_hours": int(sub_leaf.sla.total_seconds() // 3600),
                    "events": events,
                }
            )
        cats.append(
            {
                "code": cat.code,
                "names": cat.name.model_dump(),
                "kinds": [k.value for k in cat.kinds],
                "requires": leaf.requires,
                "sla_hours": int(leaf.sla.total_seconds() // 3600),
                "subcategories": subs,
            }
        )
    return {
        "kinds": [
            {"code": CaseKind.INTERVENTION.value, "category_required": True, "location_required": True},
            {"code": CaseKind.PROPOSAL.value, "category_required": False, "location_required": False},
            {"code": CaseKind.INFORMATION.value, "category_required": False, "location_required": False},
        ],
        "languages": ["pl", "en", "uk"],
        "max_photos": 5,
        "categories": cats,
    }


async def accept_mail(ctx: IntakeContext, fields: dict[str, Any], key: str) -> tuple[str, str]:
    """The e-mail channel's way in: the same validation, emergency check, numbering and outbox."""
    try:
        submission = CaseSubmission.model_validate(fields)
    except ValidationError as exc:
        return "invalid", "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())[:300]
    correlation_id = str(uuid4())
    try:
        with log_context(correlation_id=correlation_id):
            answer = await accept(ctx, submission, key, correlation_id)
    except ProblemError as exc:
        if exc.type == "emergency":
            return "emergency", "This looks like an emergency: call 112 now. / Zadzwon teraz pod numer 112."
        return "invalid", (exc.detail or exc.title)[:300]
    body = json.loads(bytes(answer.body))
    return ("duplicate" if answer.headers.get("Idempotent-Replayed") else "case"), str(body["case_number"])
