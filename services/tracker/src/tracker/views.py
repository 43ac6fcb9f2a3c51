"""Read models: what the public, units and Open311 see. Never any personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from cityconfig import CityIndex
from contracts import CaseStatus
from tracker.adapters import store
from tracker.domain.lifecycle import label

MAX_PAGE_SIZE = 100


class Labelled(BaseModel):
    code: str
    names: dict[str, str]


class HistoryEntry(BaseModel):
    sequence: int
    status: str
    status_label: dict[str, str]
    actor: str = Field(description="unit, consultant, resident or system")
    unit: Labelled | None = None
    note: str | None = None
    at: datetime


class PublicLocation(BaseModel):
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    district: str | None = None


class PublicCase(BaseModel):
    case_id: UUID
    case_number: str = Field(examples=["85130/26"])
    kind: str
    category: list[Labelled] = Field(description="category -> subcategory -> event")
    description: str
    location: PublicLocation | None = None
    photos: list[str] = Field(default_factory=list)
    channel: str
    status: str
    status_label: dict[str, str]
    unit: Labelled | None = None
    district: str | None = None
    created_at: datetime
    updated_at: datetime
    sla_due_at: datetime | None = None
    overdue: bool
    duplicate_of: UUID | None = None
    history: list[HistoryEntry] = Field(default_factory=list)


class CaseList(BaseModel):
    items: list[PublicCase]
    page: int
    page_size: int
    total: int


def _unit(city: CityIndex, unit_id: str | None) -> Labelled | None:
    if not unit_id:
        return None
    unit = city.unit(unit_id)
    names = unit.name.model_dump(exclude_none=True) if unit else {"pl": unit_id}
    return Labelled(code=unit_id, names=names)


def _category(city: CityIndex, category: dict[str, Any] | None) -> list[Labelled]:
    out: list[Labelled] = []
    for level in ("category", "subcategory", "event"):
        code = (category or {}).get(level)
        if not code:
            continue
        leaf = city.leaf(code)
        out.append(
            Labelled(code=code, names=leaf.name.model_dump(exclude_none=True) if leaf else {"pl": code})
        )
    return out


def present(city: CityIndex, raw: dict[str, Any], history: list[dict[str, Any]] | None = None) -> PublicCase:
    status = CaseStatus(raw["status"])
    loc = raw["location"]
    return PublicCase(
        case_id=raw["case_id"],
        case_number=raw["case_number"],
        kind=raw["kind"],
        category=_category(city, raw["category"]),
        description=raw["description"],
        location=PublicLocation(**{k: loc.get(k) for k in ("lat", "lon", "address", "district")})
        if loc
        else None,
        photos=list(raw["photos"] or []),
        channel=raw["channel"],
        status=status.value,
        status_label=label(status),
        unit=_unit(city, raw["unit_id"]),
        district=raw["district"],
        created_at=raw["created_at"],
        updated_at=raw["updated_at"],
        sla_due_at=raw["sla_due_at"],
        overdue=raw["overdue"],
        duplicate_of=raw["duplicate_of"],
        history=[
            HistoryEntry(
                sequence=h["sequence"],
                status=h["status"],
                status_label=label(CaseStatus(h["status"])),
                actor=h["actor_kind"],
                unit=_unit(city, h["unit_id"]),
                note=h["public_note"],
                at=h["occurred_at"],
            )
            for h in (history or [])
        ],
    )


async def case_view(conn: Any, city: CityIndex, case_id: UUID) -> PublicCase | None:
    row = await store.get_case(conn, case_id)
    if row is None:
        return None
    return present(city, row.raw, await store.history(conn, case_id))


async def case_view_by_number(conn: Any, city: CityIndex, number: str) -> PublicCase | None:
    row = await store.get_case_by_number(conn, number)
    if row is None:
        return None
    return present(city, row.raw, await store.history(conn, row.case_id))


async def list_cases(
    conn: Any,
    city: CityIndex,
    *,
    page: int,
    page_size: int,
    status: list[str] | None = None,
    category: str | None = None,
    district: str | None = None,
    unit: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    updated_after: datetime | None = None,
    updated_before: datetime | None = None,
    case_numbers: list[str] | None = None,
    with_history: bool = False,
) -> CaseList:
    where: list[str] = []
    args: list[Any] = []

    def add(sql: str, value: Any) -> None:
        args.append(value)
        where.append(sql.format(f"${len(args)}"))

    if status:
        add("status = ANY({}::text[])", status)
    if category:
        add("{} = ANY(category_codes)", category)
    if district:
        d = city.district(district)
        add("district = {}", d.name if d else district)
    if unit:
        add("unit_id = {}", unit)
    if created_from:
        add("created_at >= {}", created_from)
    if created_to:
        add("created_at <= {}", created_to)
    if updated_after:
        add("updated_at > {}", updated_after)
    if updated_before:
        add("updated_at < {}", updated_before)
    if case_numbers:
        add("case_number = ANY({}::text[])", case_numbers)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    total = await conn.fetchval(f"SELECT count(*) FROM cases {clause}", *args)
    args_page = [*args, page_size, (page - 1) * page_size]
    rows = await conn.fetch(
        f"SELECT {store.CASE_COLUMNS} FROM cases {clause} ORDER BY created_at DESC, case_id "
        f"LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
        *args_page,
    )
    items = []
    for r in rows:
        hist = await store.history(conn, r["case_id"]) if with_history else None
        items.append(present(city, dict(r), hist))
    return CaseList(items=items, page=page, page_size=page_size, total=total)
