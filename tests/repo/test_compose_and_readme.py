"""compose.yaml runs the same system the README describes."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"intake": 8001, "router": 8002, "tracker": 8003, "notifier": 8004}


def compose() -> dict:  # type: ignore[type-arg]
    data: dict = yaml.safe_load((ROOT / "compose.yaml").read_text())  # type: ignore[type-arg]
    return data


def test_every_service_is_a_container_with_its_port_and_a_healthcheck() -> None:
    services = compose()["services"]
    for name, port in SERVICES.items():
        svc = services[name]
        assert f"{port}:{port}" in svc["ports"], name
        assert "healthcheck" in svc, name
        assert svc["build"]["args"]["SERVICE"] == name
        env = svc["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env[f"{name.upper()}_DATABASE_URL"].endswith(f"/{name}")
        assert env[f"{name.upper()}_HOST"] == "0.0.0.0"
        assert env.get("PORT_CHECK") == str(port)


def test_official_kafka_and_postgres_images_with_healthchecks() -> None:
    services = compose()["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:4")
    assert services["postgres"]["image"].startswith("postgres:")
    for name in ("kafka", "postgres"):
        assert "healthcheck" in services[name]
    init = (ROOT / "deploy" / "postgres" / "init.sql").read_text()
    for name in SERVICES:
        assert f"CREATE DATABASE {name};" in init


def test_the_readme_names_every_service_and_port_compose_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    for name, port in SERVICES.items():
        assert re.search(rf"\|\s*{name}\s*\|\s*http://127\.0\.0\.1:{port}", readme), name
    assert "make run" in readme
    assert "make test" in readme
    assert "docker compose up" in readme


def test_ci_runs_make_test() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
