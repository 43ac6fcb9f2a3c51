"""Public API: no authentication and no personal data."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from contracts import CaseStatus
from servicekit.params import IsoDateTime
from servicekit.problems import ProblemError
from tracker.entrypoints.deps import ctx, domain_errors
from tracker.views import MAX_PAGE_SIZE, CaseList, PublicCase, case_view, case_view_by_number, list_cases

router = APIRouter(prefix="/v1/public", tags=["public"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such case"}}


def normalise_number(number: str) -> str:
    """Accept 85130/26, 85130-26 and 85130_26 (a slash is awkward in URLs)."""
    return number.strip().replace("-", "/").replace("_", "/")


@router.get(
    "/cases/{case_id}",
    response_model=PublicCase,
    responses=NOT_FOUND,
    summary="A case by its id: status, unit, district, SLA and public history",
)
async def get_case(request: Request, case_id: UUID) -> PublicCase:
    c = ctx(request)
    async with c.pool.acquire() as conn:
        view = await case_view(conn, c.city, case_id)
    if view is None:
        raise ProblemError(404, "Case not found", f"no case {case_id}", "not-found")
    return view


@router.get(
    "/cases/by-number/{case_number:path}",
    response_model=PublicCase,
    responses=NOT_FOUND,
    summary="A case by its number NNNNN/YY (the slash may stay, or be written as '-')",
)
async def get_case_by_number(request: Request, case_number: str) -> PublicCase:
    c = ctx(request)
    number = normalise_number(case_number)
    async with c.pool.acquire() as conn:
        view = await case_view_by_number(conn, c.city, number)
    if view is None:
        raise ProblemError(404, "Case not found", f"no case {number}", "not-found")
    return view


@router.get("/cases", response_model=CaseList, summary="Cases, newest first, with filters and paging")
async def search_cases(
    request: Request,
    status: Annotated[list[CaseStatus] | None, Query()] = None,
    category: Annotated[str | None, Query(max_length=80)] = None,
    district: Annotated[str | None, Query(max_length=80)] = None,
    unit: Annotated[str | None, Query(max_length=80)] = None,
    created_from: IsoDateTime | None = None,
    created_to: IsoDateTime | None = None,
    updated_after: IsoDateTime | None = None,
    updated_before: IsoDateTime | None = None,
    case_number: Annotated[list[str] | None, Query(max_length=50)] = None,
    with_history: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> CaseList:
    c = ctx(request)
    async with c.pool.acquire() as conn:
        return await list_cases(
            conn,
            c.city,
            page=page,
            page_size=page_size,
            status=[s.value for s in status] if status else None,
            category=category,
            district=district,
            unit=unit,
            created_from=created_from,
            created_to=created_to,
            updated_after=updated_after,
            updated_before=updated_before,
            case_numbers=[normalise_number(n) for n in case_number] if case_number else None,
            with_history=with_history,
        )


class Dispute(BaseModel):
    case_number: str = Field(max_length=20, examples=["85130/26"])
    secret: str = Field(min_length=8, max_length=200, description="The secret returned at submission")
    reason: str = Field(min_length=1, max_length=4000, description="Why the closure is disputed")


class TransitionResult(BaseModel):
    case_id: UUID
    case_number: str
    status: str
    sequence: int


@router.post(
    "/disputes",
    response_model=TransitionResult,
    responses={
        403: {"description": "Number and secret do not match"},
        409: {"description": "Not closed, or closed more than 14 days ago"},
    },
    summary="A resident disputes a closure (Reklamowane - W trakcie) within 14 days",
)
async def dispute(request: Request, body: Dispute) -> TransitionResult:
    c = ctx(request)
    async with domain_errors():
        out = await c.service.dispute(normalise_number(body.case_number), body.secret, body.reason)
    return TransitionResult(
        case_id=out.case_id, case_number=out.case_number, status=out.status.value, sequence=out.sequence
    )
