"""Every HTTP API fuzzed from its OpenAPI document (docs/openapi-*.json) with Schemathesis, against the
services running on the real Kafka and PostgreSQL: valid and invalid data from the schemas, then
stateful sequences. Not one 5xx, and every answer conforms to the document (status, content type,
schema, headers, Allow), invalid input is refused, unknown methods get 405.

The only check left out is `positive_data_acceptance`: a schema-valid request may still break a rule the
schema cannot say (a category that is not in the catalogue, an emergency to be called in to 112, a
transition the case's state forbids), and is then refused with a problem document, as it should be.

FUZZ_EXAMPLES (default 25 per operation) and FUZZ_SEED (default fixed, so CI is reproducible) tune it;
the figures of each run land in FUZZ_REPORT_DIR (default: the test's tmp dir)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from devstack.testing import System, case_body, submit_case
from tracker.auth import issue_key

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CHECKS_LEFT_OUT = "positive_data_acceptance"


async def unlimited(system: System, services: Any, operator_key: str) -> dict[str, Any]:
    """Second instances of the HTTP services without rate limits, so the fuzzer reaches the logic (the
    limits themselves are tested in libs/servicekit and tests/e2e)."""
    return {
        "intake": await services("intake", {**system.env["intake"], "INTAKE_RATE_LIMIT_PER_S": "0"}),
        "router": system.router,
        "tracker": await services(
            "tracker",
            {**system.env["tracker"], "TRACKER_RATE_LIMIT_PER_S": "0"},
            label="tracker-fuzz",
        ),
        "notifier": await services(
            "notifier",
            {
                **system.env["notifier"],
                "NOTIFIER_RATE_LIMIT_PER_S": "0",
                "NOTIFIER_OPERATOR_KEY_HASHES": hashlib.sha256(operator_key.encode()).hexdigest(),
            },
            label="notifier-fuzz",
        ),
    }


def schemathesis(
    doc: Path, url: str, report: Path, key: str | None, parameters: dict[str, str]
) -> dict[str, Any]:
    config = report.with_suffix(".toml")
    config.write_text(
        "[parameters]\n" + "".join(f'{name} = "{value}"\n' for name, value in parameters.items())
    )
    cmd = [
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(config),
        "run",
        str(doc),
        "--url",
        url,
        "--checks",
        "all",
        "--exclude-checks",
        CHECKS_LEFT_OUT,
        "--max-examples",
        os.environ.get("FUZZ_EXAMPLES", "25"),
        "--seed",
        os.environ.get("FUZZ_SEED", "19115"),
        "--continue-on-failure",
        "--request-timeout",
        "20",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
    ]
    if key:
        cmd += ["--header", f"X-API-Key:{key}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False, cwd=report.parent)
    report.with_suffix(".txt").write_text(done.stdout + done.stderr)
    result: dict[str, Any] = json.loads(report.read_text())
    result["output"] = done.stdout[-6000:]
    return result


async def test_every_api_fuzzed_from_its_openapi_document(
    system: System, services: Any, tmp_path: Path
) -> None:
    operator = "operator-" + uuid.uuid4().hex
    svc = await unlimited(system, services, operator)
    conn = await asyncpg.connect(system.env["tracker"]["TRACKER_DATABASE_URL"])
    try:
        unit = await issue_key(conn, "unit", "zdm")
        consultant = await issue_key(conn, "consultant", "k-fuzz")
    finally:
        await conn.close()
    # a real case routed to ZDM, so that the unit's and the consultant's operations reach their logic
    case_id = (await submit_case(system, case_body(description="Nie działa sygnalizacja na skrzyżowaniu")))[
        "case_id"
    ]
    runs: list[tuple[str, str | None, dict[str, str]]] = [
        ("intake", None, {}),
        ("router", None, {}),
        ("tracker", unit, {"unit_id": "zdm", "case_id": case_id}),
        ("tracker", consultant, {"case_id": case_id}),
        ("notifier", operator, {}),
    ]
    out = Path(os.environ.get("FUZZ_REPORT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    summary = []
    for i, (name, key, parameters) in enumerate(runs):
        report = out / f"fuzz-{i}-{name}.json"
        result = await asyncio.to_thread(
            schemathesis, DOCS / f"openapi-{name}.json", svc[name].url, report, key, parameters
        )
        summary.append(
            {
                "service": name,
                "as": ["anonymous", "unit", "consultant", "operator"][
                    [None, unit, consultant, operator].index(key)
                ],
                "operations": result["operations"]["tested"],
                "test_cases": result["test_cases"]["generated"],
                "failures": [f"{f['code']} {f['title']}: {f['operations']}" for f in result["failures"]],
                "errors": result["errors"],
                "output": result["output"],
            }
        )
    (out / "fuzz-summary.json").write_text(
        json.dumps([{k: v for k, v in s.items() if k != "output"} for s in summary], indent=1)
    )
    for s in summary:
        print(
            f"fuzz {s['service']:9} as {s['as']:10} {s['operations']:3} operations {s['test_cases']:6} cases"
        )
    failed = [s for s in summary if s["failures"] or s["errors"]]
    assert not failed, "\n\n".join(
        f"{s['service']} as {s['as']}: {s['failures']} {s['errors']}\n{s['output']}" for s in failed
    )
    assert sum(s["test_cases"] for s in summary) > 1000
    # nothing the fuzzer sent made any service fail: no unhandled error in any log
    for log in tmp_path.glob("*.log"):
        assert "unhandled error" not in log.read_text(), log.name
