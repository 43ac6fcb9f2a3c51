"""Open311 GeoReport v2: the spec's names and shapes, mapped to and from ours (pure functions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

from cityconfig import CityIndex, LeafEntry
from contracts import CaseKind

CLOSED_STATUSES = {"closed", "duplicate"}
MAX_RANGE_DAYS = 90


def service_leaves(city: CityIndex) -> list[LeafEntry]:
    """Open311 services are the catalogue's leaves: events, and subcategories that have none."""
    out: list[LeafEntry] = []
    for cat in city.config.catalogue:
        for sub in cat.subcategories:
            codes = [e.code for e in sub.events] or [sub.code]
            out.extend(leaf for code in codes if (leaf := city.leaf(code)) is not None)
    return out


def service(leaf: LeafEntry, lang: str) -> dict[str, Any]:
    return {
        "service_code": leaf.code,
        "service_name": leaf.name.get(lang),
        "description": " / ".join(n.get(lang) for n in leaf.path_names),
        "metadata": False,
        "type": "realtime",
        "keywords": leaf.category,
        "group": leaf.path_names[1].get(lang) if len(leaf.path_names) > 1 else leaf.path_names[0].get(lang),
    }


def kind_for(leaf: LeafEntry) -> CaseKind:
    return leaf.kinds[0]


def submission_fields(form: dict[str, str], leaf: LeafEntry) -> dict[str, Any]:
    """The POST requests form as our submission's fields (validation happens on the submission)."""
    location: dict[str, Any] = {}
    if form.get("lat") or form.get("long"):
        location["lat"] = form.get("lat")
        location["lon"] = form.get("long")
    if form.get("address_string"):
        location["address"] = form["address_string"]
    name = " ".join(p for p in (form.get("first_name"), form.get("last_name")) if p) or None
    reporter = {
        "name": name,
        "email": form.get("email") or None,
        "phone": form.get("phone") or None,
        "device_token": form.get("device_id") or None,
    }
    return {
        "kind": kind_for(leaf).value,
        "category": leaf.code,
        "description": form.get("description") or leaf.name.pl,
        "location": location or None,
        "photos": [form["media_url"]] if form.get("media_url") else [],
        "channel": "open311",
        "reporter": reporter if any(reporter.values()) else None,
        "language": form.get("locale", "pl")[:2]
        if form.get("locale", "pl")[:2] in ("pl", "en", "uk")
        else "pl",
    }


def request_object(view: dict[str, Any], extensions: bool = False) -> dict[str, Any]:
    """A tracker public view as an Open311 service request."""
    history = view.get("history") or []
    notes = [h.get("note") for h in history if h.get("note")]
    location = view.get("location") or {}
    category = view.get("category") or []
    leaf = category[-1] if category else None
    out: dict[str, Any] = {
        "service_request_id": view["case_number"],
        "status": "closed" if view["status"] in CLOSED_STATUSES else "open",
        "status_notes": notes[-1] if notes else None,
        "service_name": leaf["names"].get("pl") if leaf else None,
        "service_code": leaf["code"] if leaf else None,
        "description": view.get("description"),
        "agency_responsible": (view.get("unit") or {}).get("names", {}).get("pl"),
        "service_notice": None,
        "requested_datetime": view["created_at"],
        "updated_datetime": view["updated_at"],
        "expected_datetime": view.get("sla_due_at"),
        "address": location.get("address"),
        "address_id": None,
        "zipcode": None,
        "lat": location.get("lat"),
        "long": location.get("lon"),
        "media_url": (view.get("photos") or [None])[0],
    }
    if extensions:
        out["extended_attributes"] = {
            "channel": view.get("channel"),
            "status": view["status"],
            "duplicate_of": view.get("duplicate_of"),
            "district": view.get("district"),
            "overdue": view.get("overdue"),
        }
        out["notes"] = [
            {"status": h["status"], "description": h.get("note"), "datetime": h["at"]} for h in history
        ]
    return out


def check_range(start: datetime | None, end: datetime | None) -> str | None:
    if start and end and (end - start).days > MAX_RANGE_DAYS:
        return f"start_date and end_date may be at most {MAX_RANGE_DAYS} days apart"
    if start and end and end < start:
        return "end_date is before start_date"
    return None


def _xml_value(parent: ET.Element, key: str, value: Any) -> None:
    child = ET.SubElement(parent, key)
    if isinstance(value, dict):
        for k, v in value.items():
            _xml_value(child, k, v)
    elif isinstance(value, list):
        for item in value:
            _xml_value(child, key[:-1] if key.endswith("s") else "item", item)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = str(value)


def to_xml(items: list[dict[str, Any]], root: str, item: str) -> bytes:
    """The spec's XML: <root><item>…</item>…</root>."""
    top = ET.Element(root)
    for entry in items:
        element = ET.SubElement(top, item)
        for key, value in entry.items():
            _xml_value(element, key, value)
    body: bytes = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    return body
