"""The committed docs/ are what the code generates (make docs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.docs import documents

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("name", sorted(documents()))
def test_committed_document_is_current(name: str) -> None:
    assert (DOCS / name).exists(), f"docs/{name} missing: run make docs"
    assert (DOCS / name).read_text(encoding="utf-8") == documents()[name], (
        f"docs/{name} is stale: run make docs"
    )


def test_every_http_api_documents_its_operations() -> None:
    import json

    tracker = json.loads((DOCS / "openapi-tracker.json").read_text())
    assert "/v1/public/cases/by-number/{case_number}" in tracker["paths"]
    intake = json.loads((DOCS / "openapi-intake.json").read_text())
    assert "/v1/cases" in intake["paths"]
    asyncapi = json.loads((DOCS / "asyncapi.json").read_text())
    assert set(asyncapi["channels"]) >= {
        "case.created",
        "case.routed",
        "case.status_changed",
        "case.created.dlq",
    }
