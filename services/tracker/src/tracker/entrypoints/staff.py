"""Unit API (a key per unit, sees only its unit's cases) and consultant API (triage queue)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from contracts import Actor, ActorKind, CaseStatus
from servicekit.problems import ProblemError
from tracker.auth import Principal
from tracker.entrypoints.deps import ctx, domain_errors, principal, require_role
from tracker.entrypoints.public import TransitionResult
from tracker.service import Outcome
from tracker.views import MAX_PAGE_SIZE, CaseList, list_cases

units = APIRouter(prefix="/v1/units/{unit_id}", tags=["units"])
consultants = APIRouter(prefix="/v1/consultant", tags=["consultants"])

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or unknown key"},
    403: {"description": "Not your unit's case"},
    404: {"description": "No such case"},
    409: {"description": "Transition not allowed"},
}


class Note(BaseModel):
    note: str | None = Field(default=None, max_length=4000, description="Public note the resident can read")


class RequiredNote(BaseModel):
    note: str = Field(min_length=1, max_length=4000, description="Text the resident can read")


class Assignment(BaseModel):
    unit_id: str = Field(max_length=80, examples=["zdm"])
    note: str | None = Field(default=None, max_length=4000)


class DuplicateOf(BaseModel):
    duplicate_of: UUID
    note: str | None = Field(default=None, max_length=4000)


def _result(out: Outcome) -> TransitionResult:
    return TransitionResult(
        case_id=out.case_id, case_number=out.case_number, status=out.status.value, sequence=out.sequence
    )


def _unit_caller(unit_id: str, who: Principal) -> Actor:
    require_role(who, "unit")
    if who.subject != unit_id:
        raise ProblemError(403, "Forbidden", "this key belongs to another unit", "forbidden")
    return Actor(kind=ActorKind.UNIT, id=unit_id)


@units.get("/cases", response_model=CaseList, responses=AUTH_ERRORS, summary="My unit's cases")
async def my_cases(
    request: Request,
    unit_id: str,
    who: Annotated[Principal, Depends(principal)],
    status: Annotated[list[CaseStatus] | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> CaseList:
    _unit_caller(unit_id, who)
    c = ctx(request)
    async with c.pool.acquire() as conn:
        return await list_cases(
            conn,
            c.city,
            page=page,
            page_size=page_size,
            unit=unit_id,
            status=[s.value for s in status] if status else None,
            with_history=True,
        )


async def _unit_transition(
    request: Request, unit_id: str, case_id: UUID, who: Principal, target: CaseStatus, note: str | None
) -> TransitionResult:
    actor = _unit_caller(unit_id, who)
    async with domain_errors():
        out = await ctx(request).service.transition(case_id, target, actor, note, unit_scope=unit_id)
    return _result(out)


@units.post(
    "/cases/{case_id}/accept",
    response_model=TransitionResult,
    responses=AUTH_ERRORS,
    summary="Take the case: W trakcie",
)
async def accept(
    request: Request, unit_id: str, case_id: UUID, body: Note, who: Annotated[Principal, Depends(principal)]
) -> TransitionResult:
    return await _unit_transition(request, unit_id, case_id, who, CaseStatus.IN_PROGRESS, body.note)


@units.post(
    "/cases/{case_id}/progress",
    response_model=TransitionResult,
    responses=AUTH_ERRORS,
    summary="Tell the resident about progress",
)
async def progress(
    request: Request,
    unit_id: str,
    case_id: UUID,
    body: RequiredNote,
    who: Annotated[Principal, Depends(principal)],
) -> TransitionResult:
    return await _unit_transition(request, unit_id, case_id, who, CaseStatus.IN_PROGRESS, body.note)


@units.post(
    "/cases/{case_id}/close",
    response_model=TransitionResult,
    responses=AUTH_ERRORS,
    summary="Close with a resolution note the resident can read",
)
async def close(
    request: Request,
    unit_id: str,
    case_id: UUID,
    body: RequiredNote,
    who: Annotated[Principal, Depends(principal)],
) -> TransitionResult:
    return await _unit_transition(request, unit_id, case_id, who, CaseStatus.CLOSED, body.note)


@units.post(
    "/cases/{case_id}/reject",
    response_model=TransitionResult,
    responses=AUTH_ERRORS,
    summary="Not our competence: the router passes it on",
)
async def reject(
    request: Request,
    unit_id: str,
    case_id: UUID,
    body: RequiredNote,
    who: Annotated[Principal, Depends(principal)],
) -> TransitionResult:
    return await _unit_transition(request, unit_id, case_id, who, CaseStatus.REJECTED, body.note)


def _consultant(who: Principal) -> Actor:
    require_role(who, "consultant")
    return Actor(kind=ActorKind.CONSULTANT, id=who.subject)


@consultants.get("/triage", response_model=CaseList, responses=AUTH_ERRORS, summary="The triage queue")
async def triage(
    request: Request,
    who: Annotated[Principal, Depends(principal)],
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> CaseList:
    _consultant(who)
    c = ctx(request)
    async with c.pool.acquire() as conn:
        return await list_cases(
            conn, c.city, page=page, page_size=page_size, status=["triage"], with_history=True
        )


@consultants.post(
    "/cases/{case_id}/assign",
    response_model=TransitionResult,
    responses=AUTH_ERRORS,
    summary="Assign a triage case to a unit (published as case.routed)",
)
async def assign(
    request: Request, case_id: UUID, body: Assignment, who: Annotated[Principal, Depends(principal)]
) -> TransitionResult:
    actor = _consultant(who)
    async with domain_errors():
        return _result(await ctx(request).service.assign(case_id, body.unit_id, actor, body.note))


@consultants.post(
    "/cases/{case_id}/notes",
    response_model=TransitionResult,
    responses=AUTH_ERRORS,
    summary="Add a public note to the case's history",
)
async def add_note(
    request: Request, case_id: UUID, body: RequiredNote, who: Annotated[Principal, Depends(principal)]
) -> TransitionResult:
    actor = _consultant(who)
    async with domain_errors():
        return _result(await ctx(request).service.add_note(case_id, actor, body.note))


@consultants.post(
    "/cases/{case_id}/duplicate",
    response_model=TransitionResult,
    responses=AUTH_ERRORS,
    summary="Merge the case into another one",
)
async def mark_duplicate(
    request: Request, case_id: UUID, body: DuplicateOf, who: Annotated[Principal, Depends(principal)]
) -> TransitionResult:
    actor = _consultant(who)
    async with domain_errors():
        out = await ctx(request).service.transition(
            case_id,
            CaseStatus.DUPLICATE,
            actor,
            body.note or "Połączono z innym zgłoszeniem",
            duplicate_of=body.duplicate_of,
        )
    return _result(out)


@consultants.post(
    "/cases/{case_id}/close",
    response_model=TransitionResult,
    responses=AUTH_ERRORS,
    summary="Answer a triage case directly (e.g. an information request) and close it",
)
async def consultant_close(
    request: Request, case_id: UUID, body: RequiredNote, who: Annotated[Principal, Depends(principal)]
) -> TransitionResult:
    actor = _consultant(who)
    async with domain_errors():
        return _result(await ctx(request).service.transition(case_id, CaseStatus.CLOSED, actor, body.note))
