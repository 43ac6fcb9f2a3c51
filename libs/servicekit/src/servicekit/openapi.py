"""The OpenAPI document as the services really answer: every error is an RFC 9457 problem document, and
every operation lists the errors the shared middleware can give (malformed input, too large, rate limited,
unavailable) besides its own. Schemathesis checks the services against this document (tests/e2e)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from servicekit.problems import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "One entry per invalid field",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}

DESCRIPTIONS = {
    "400": "Malformed request (e.g. broken JSON, the NUL character)",
    "413": "Request body too large",
    "415": "Unsupported content type",
    "422": "Invalid request: one entry per invalid field",
    "429": "Too many requests from this client: wait Retry-After seconds",
    "500": "Internal error (logged); retry later",
    "503": "A dependency (database, broker) is unavailable; retry later",
}
_PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
_RETRYABLE = ("429", "503")


def _problem_content(response: dict[str, Any]) -> None:
    content = response.get("content") or {}
    plain = content.get("application/json", {}).get("schema")
    generic = set(content) <= {"application/json"} and (not plain or "HTTPValidationError" in str(plain))
    response["content"] = dict(_PROBLEM) if generic else {**content, **_PROBLEM}


def document_problems(app: FastAPI, rate_limited: tuple[str, ...] = ()) -> None:
    """Replace app.openapi with one that documents the errors as they are sent."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["Problem"] = PROBLEM_SCHEMA
        shared = components.setdefault("responses", {})
        for code, description in DESCRIPTIONS.items():
            shared[f"Problem{code}"] = {"description": description, "content": dict(_PROBLEM)}
            if code in _RETRYABLE:
                shared[f"Problem{code}"]["headers"] = _RETRY_AFTER
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses: dict[str, Any] = operation.setdefault("responses", {})
                common = ["400", "500", "503"]
                if operation.get("parameters") or operation.get("requestBody"):
                    common.append("422")
                if operation.get("requestBody"):
                    common += ["413", "415"]
                if path.startswith(rate_limited):
                    common.append("429")
                for code, response in responses.items():
                    if code[0] in "45":
                        _problem_content(response)
                        if code in _RETRYABLE:
                            response["headers"] = _RETRY_AFTER
                for code in common:
                    if code not in responses or code == "422":  # FastAPI's own 422 is not what is sent
                        responses[code] = {"$ref": f"#/components/responses/Problem{code}"}
                operation["responses"] = dict(sorted(responses.items()))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
