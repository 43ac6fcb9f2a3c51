"""`make docs`: the AsyncAPI document of all topics and the OpenAPI document of every HTTP API, into docs/."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from devstack.config import load


def openapi(service: str) -> dict[str, Any]:
    """Build the service's app (nothing is started or connected) and return its OpenAPI document."""
    import importlib

    settings_mod = importlib.import_module(f"{service}.settings")
    bootstrap = importlib.import_module(f"{service}.bootstrap")
    settings_cls = next(
        v for k, v in vars(settings_mod).items() if k.endswith("Settings") and k != "ServiceSettings"
    )
    app = bootstrap.build_app(settings_cls())
    document: dict[str, Any] = app.openapi()
    return document


def documents() -> dict[str, str]:
    from contracts.asyncapi import render

    out = {"asyncapi.json": render()}
    for service in ("intake", "router", "tracker", "notifier"):
        out[f"openapi-{service}.json"] = json.dumps(openapi(service), indent=2, ensure_ascii=False) + "\n"
    return out


def main(argv: list[str]) -> int:
    target = load().root / "docs"
    docs = documents()
    if argv[:1] == ["check"]:
        stale = [
            name
            for name, text in docs.items()
            if not (target / name).exists() or (target / name).read_text(encoding="utf-8") != text
        ]
        if stale:
            print(f"docs/ is stale: {', '.join(stale)} (run make docs)", file=sys.stderr)
            return 1
        return 0
    target.mkdir(exist_ok=True)
    for name, text in docs.items():
        (target / name).write_text(text, encoding="utf-8")
        print(f"wrote {Path('docs') / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
