"""The fault scenarios report one row each; the table is printed at the end of the run and, when
CHAOS_RESULTS_DIR is set (make chaos sets it), written there as JSON."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import pytest

ROWS = pytest.StashKey[list[dict[str, Any]]]()
COLUMNS = [
    ("scenario", "scenario", 34),
    ("accepted", "accepted", 9),
    ("refused", "refused*", 9),
    ("lost", "lost", 5),
    ("duplicated", "duplicated", 11),
    ("copies", "copies**", 9),
    ("recovery_s", "recovery s", 11),
    ("settle_s", "settle s", 9),
]


@pytest.fixture
def chaos_table(pytestconfig: pytest.Config) -> list[dict[str, Any]]:
    return pytestconfig.stash.setdefault(ROWS, [])


def table(rows: list[dict[str, Any]]) -> str:
    head = " ".join(title.ljust(width) for _, title, width in COLUMNS)
    lines = [head, "-" * len(head)]
    for row in rows:
        lines.append(" ".join(str(row.get(key, "")).ljust(width) for key, _, width in COLUMNS))
    lines.append(
        "* submissions refused while a fault lasted (503 or no answer); the channel retried them with the same "
        "Idempotency-Key\n** confirmation e-mails delivered again with the same Message-ID (at-least-once SMTP)"
    )
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    rows = config.stash.get(ROWS, [])
    if not rows:
        return
    terminalreporter.section("fault scenarios")
    terminalreporter.write_line(table(rows))
    out = os.environ.get("CHAOS_RESULTS_DIR")
    if out:
        path = Path(out) / f"chaos-{time.strftime('%Y%m%dT%H%M%S')}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        machine = {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        }
        path.write_text(json.dumps({"machine": machine, "scenarios": rows}, indent=1))
        terminalreporter.write_line(f"written to {path}")
