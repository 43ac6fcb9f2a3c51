"""Open311 GeoReport v2 under /open311/v2/, in JSON and XML, with the spec's names, errors and codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from intake.adapters.clients import client_for_key
from intake.domain import open311
from intake.domain.submission import CaseSubmission
from intake.entrypoints.http import accept
from intake.service import context
from servicekit.logs import log_context
from servicekit.params import IsoDateTime
from servicekit.problems import ProblemError

router = APIRouter(prefix="/open311/v2", tags=["open311"])
Fmt = Literal["json", "xml"]
OPEN = ["new", "triage", "routed", "in_progress", "rejected", "reopened"]
CLOSED = ["closed", "duplicate"]
ERROR_LIST: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
    },
}
XML: dict[str, Any] = {"schema": {"type": "string", "description": "The same, as GeoReport v2 XML"}}


def formats(json_schema: dict[str, Any]) -> dict[str, Any]:
    """Open311 answers in the format the path ends with: .json or .xml."""
    return {"application/json": {"schema": json_schema}, "text/xml": XML}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad request (error list)", "content": formats(ERROR_LIST)},
    403: {"description": "api_key missing or not valid", "content": formats(ERROR_LIST)},
    404: {"description": "Not found (error list)", "content": formats(ERROR_LIST)},
}


def answers(description: str, status: int = 200) -> dict[int | str, dict[str, Any]]:
    return {status: {"description": description, "content": formats({})}, **ERRORS}


def reply(items: list[dict[str, Any]], fmt: str, root: str, item: str, status: int = 200) -> Response:
    if fmt == "xml":
        return Response(
            open311.to_xml(items, root, item), status_code=status, media_type="text/xml; charset=utf-8"
        )
    return Response(
        json.dumps(items, ensure_ascii=False, default=str), status_code=status, media_type="application/json"
    )


def fail(status: int, description: str, fmt: str = "json") -> Response:
    return reply([{"code": status, "description": description}], fmt, "errors", "error", status)


@router.get(
    "/discovery.{fmt}",
    summary="Where the endpoints are and what they speak",
    responses=answers("The discovery document"),
)
async def discovery(request: Request, fmt: Fmt) -> Response:
    ctx = context(request)
    base = str(request.base_url).rstrip("/") + "/open311/v2/"
    body = {
        "changeset": "2026-12-01T00:00:00Z",
        "contact": ctx.city.config.city.contact_email,
        "key_service": "Ask the city contact centre for an api_key",
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": base,
                "changeset": "2026-12-01T00:00:00Z",
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }
    if fmt == "xml":
        return reply([body], fmt, "discovery_root", "discovery")
    return Response(json.dumps(body), media_type="application/json")


@router.get(
    "/services.{fmt}",
    summary="The service list (the catalogue's leaves)",
    responses=answers("The services"),
)
async def services(request: Request, fmt: Fmt, locale: str = Query("pl", max_length=10)) -> Response:
    ctx = context(request)
    lang = locale[:2] if locale[:2] in ("pl", "en", "uk") else "pl"
    return reply(
        [open311.service(leaf, lang) for leaf in open311.service_leaves(ctx.city)], fmt, "services", "service"
    )


@router.get(
    "/services/{service_code}.{fmt}",
    summary="A service's definition (attributes)",
    responses=answers("The service definition"),
)
async def service_definition(request: Request, service_code: str, fmt: Fmt) -> Response:
    ctx = context(request)
    if ctx.city.leaf(service_code) is None:
        return fail(404, f"service_code {service_code} not found", fmt)
    definition = {"service_code": service_code, "attributes": []}
    if fmt == "xml":
        return reply([definition], fmt, "service_definitions", "service_definition")
    return Response(json.dumps(definition), media_type="application/json")


@router.post(
    "/requests.{fmt}",
    summary="Create a service request (form-encoded, api_key required)",
    responses=answers("The new request's number and token", 201),
    status_code=201,
)
async def create_request(request: Request, fmt: Fmt) -> Response:
    ctx = context(request)
    try:
        form = {k: str(v) for k, v in (await request.form()).items()}
    except Exception:
        return fail(400, "send the request as application/x-www-form-urlencoded", fmt)
    async with ctx.pool.acquire() as conn:
        client = await client_for_key(conn, form.get("api_key"))
    if client is None:
        return fail(403, "api_key missing or not valid", fmt)
    code = form.get("service_code", "")
    leaf = ctx.city.leaf(code)
    if leaf is None:
        return fail(
            400 if not code else 404,
            f"service_code {code!r} not found" if code else "service_code required",
            fmt,
        )
    try:
        submission = CaseSubmission.model_validate(open311.submission_fields(form, leaf))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return fail(400, problems, fmt)
    correlation_id = request.headers.get("X-Correlation-ID") or str(uuid4())
    try:
        with log_context(correlation_id=correlation_id, open311_client=client):
            answer = await accept(ctx, submission, None, correlation_id)
    except ProblemError as exc:
        fields = "; ".join(f"{e['field']}: {e['message']}" for e in exc.extensions.get("errors", []))
        return fail(400, f"{exc.detail or exc.title}{' (' + fields + ')' if fields else ''}", fmt)
    created = json.loads(bytes(answer.body))
    item = {
        "service_request_id": created["case_number"],
        "service_notice": None,
        "account_id": form.get("account_id") or None,
        "token": created["case_id"],
    }
    return reply([item], fmt, "service_requests", "request", 201)


@router.get("/requests.{fmt}", summary="Search service requests", responses=answers("Matching requests"))
async def search_requests(
    request: Request,
    fmt: Fmt,
    service_request_id: str | None = Query(None, max_length=2000),
    service_code: str | None = Query(None, max_length=80),
    start_date: IsoDateTime | None = None,
    end_date: IsoDateTime | None = None,
    updated_after: IsoDateTime | None = None,
    updated_before: IsoDateTime | None = None,
    status: Literal["open", "closed"] | None = None,
    page: int = Query(1, ge=1, le=100_000),
    page_size: int = Query(50, ge=1, le=100),
    extensions: bool = False,
) -> Response:
    ctx = context(request)
    if problem := open311.check_range(start_date, end_date):
        return fail(400, problem, fmt)
    params: list[tuple[str, str]] = [("page", str(page)), ("page_size", str(page_size))]
    if extensions:
        params.append(("with_history", "true"))
    if service_request_id:
        params += [("case_number", n.strip()) for n in service_request_id.split(",") if n.strip()][:50]
    elif not (start_date or end_date or updated_after):
        start_date = datetime.now(UTC) - timedelta(days=open311.MAX_RANGE_DAYS)
    if service_code:
        params.append(("category", service_code))
    for key, value in (
        ("created_from", start_date),
        ("created_to", end_date),
        ("updated_after", updated_after),
        ("updated_before", updated_before),
    ):
        if value is not None:
            params.append((key, value.isoformat()))
    if status:
        params += [("status", s) for s in (OPEN if status == "open" else CLOSED)]
    found = await ctx.tracker.search(params)
    items = [open311.request_object(v, extensions) for v in found["items"]]
    response = reply(items, fmt, "service_requests", "request")
    response.headers["X-Total-Count"] = str(found["total"])
    return response


@router.get(
    "/requests/{request_path:path}",
    summary="One service request (a one-element list); the id is "
    "the case number, e.g. requests/85130/26.json",
    responses=answers("A one-element list"),
)
async def get_request(request: Request, request_path: str, extensions: bool = False) -> Response:
    ctx = context(request)
    number, _, fmt = request_path.rpartition(".")
    if fmt not in ("json", "xml") or not number:
        return fail(404, "use requests/{service_request_id}.json or .xml")
    view = await ctx.tracker.case_by_number(number.replace("-", "/"))
    if view is None:
        return fail(404, f"service_request_id {number} not found", fmt)
    return reply([open311.request_object(view, extensions)], fmt, "service_requests", "request")


@router.get(
    "/tokens/{token}.{fmt}",
    summary="The service_request_id of a token",
    responses=answers("The request behind the token"),
)
async def token(request: Request, token: str, fmt: Fmt) -> Response:
    ctx = context(request)
    try:
        case_id = UUID(token)
    except ValueError:
        return fail(404, "token not found", fmt)
    view = await ctx.tracker.case(str(case_id))
    if view is None:
        return fail(404, "token not found (or not yet processed)", fmt)
    return reply(
        [{"service_request_id": view["case_number"], "token": token}], fmt, "service_requests", "request"
    )
