"""Running the four services (and Prometheus) on localhost against the stack: `make run`."""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack import prometheus
from devstack.config import StackConfig
from devstack.proc import StackError, read_pid, spawn, stop_pidfile, tail


@dataclass(frozen=True)
class Service:
    name: str
    port: int


SERVICES = (
    Service("intake", 8001),
    Service("router", 8002),
    Service("tracker", 8003),
    Service("notifier", 8004),
)


def shared_boundaries(cfg: StackConfig) -> Path | None:
    """Warsaw's district polygons in ../shared/data, when this checkout sits beside it."""
    candidate = cfg.root.parent / "shared" / "data" / "warsaw-districts.geojson"
    return candidate if candidate.exists() else None


def service_env(
    cfg: StackConfig, svc: Service, port: int | None = None, instance: str = "1"
) -> dict[str, str]:
    env = dict(cfg.env())
    prefix = svc.name.upper()
    env[f"{prefix}_PORT"] = str(port or svc.port)
    env[f"{prefix}_INSTANCE_ID"] = instance
    if svc.name == "intake" and port is None:
        env.setdefault("INTAKE_MAIL_PORT", os.environ.get("INTAKE_MAIL_PORT", "2526"))
    boundaries = shared_boundaries(cfg)
    if boundaries and "CITY_BOUNDARIES_FILE" not in os.environ:
        env["CITY_BOUNDARIES_FILE"] = str(boundaries)
    return env


def _pidfile(cfg: StackConfig, name: str) -> Path:
    return cfg.run_dir / f"{name}.pid"


def start_service(
    cfg: StackConfig,
    svc: Service,
    port: int | None = None,
    instance: str = "1",
    extra_env: dict[str, str] | None = None,
    name: str | None = None,
) -> str:
    label = name or svc.name
    log = cfg.log_dir / f"{label}.log"
    env = {**service_env(cfg, svc, port, instance), **(extra_env or {})}
    spawn(label, [sys.executable, "-m", svc.name], _pidfile(cfg, label), log, env)
    return label


def wait_healthy(cfg: StackConfig, label: str, port: int, timeout: float = 60.0, ready: bool = True) -> None:
    deadline = time.monotonic() + timeout
    path = "/readyz" if ready else "/healthz"
    while time.monotonic() < deadline:
        if read_pid(_pidfile(cfg, label)) is None:
            raise StackError(
                f"{label} exited; see {cfg.log_dir / f'{label}.log'}:\n{tail(cfg.log_dir / f'{label}.log')}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise StackError(
        f"{label} not ready on port {port} after {timeout:.0f}s:\n{tail(cfg.log_dir / f'{label}.log')}"
    )


def stop_service(cfg: StackConfig, label: str) -> None:
    stop_pidfile(_pidfile(cfg, label))


def stop_all(cfg: StackConfig) -> None:
    for pidfile in cfg.run_dir.glob("*.pid") if cfg.run_dir.exists() else []:
        if pidfile.stem not in ("kafka", "mailbox"):
            stop_pidfile(pidfile)


def run_all(cfg: StackConfig, prometheus_on: bool = True) -> int:
    """Start everything, print where it is, wait for Ctrl-C, stop everything that was started."""
    from devstack import cli

    stop = {"now": False}

    def _stop(signum: int, _frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    started: list[str] = []
    code = 0
    try:
        cli.up(cfg)
        for svc in SERVICES:
            started.append(start_service(cfg, svc))
        for svc in SERVICES:
            wait_healthy(cfg, svc.name, svc.port)
        prom_url = None
        if prometheus_on:
            prom_url = prometheus.start(cfg)
            if prom_url:
                started.append("prometheus")
        boundaries = shared_boundaries(cfg)
        print("\nThe city contact centre is running (Warsaw configuration):", flush=True)
        for svc in SERVICES:
            print(
                f"  {svc.name:9s} http://127.0.0.1:{svc.port}   docs /docs   metrics /metrics   "
                f"log {cfg.log_dir / (svc.name + '.log')}"
            )
        print(
            f"  kafka     {cfg.kafka_bootstrap}\n  postgres  127.0.0.1:{cfg.pg_port} (user postgres)\n"
            f"  smtp      127.0.0.1:{cfg.smtp_port} → mails stored in {cfg.mailbox_dir}"
        )
        if prom_url:
            print(f"  prometheus {prom_url}")
        print(
            f"  districts: {'polygons from ' + str(boundaries) if boundaries else 'nearest district centre'}"
        )
        print(
            "\nTry:  curl -s localhost:8001/v1/categories | head -c 300\nCtrl-C stops everything.\n",
            flush=True,
        )
        while not stop["now"]:
            for label in started:
                if label != "prometheus" and read_pid(_pidfile(cfg, label)) is None:
                    print(
                        f"devstack: {label} stopped unexpectedly; see {cfg.log_dir / (label + '.log')}",
                        file=sys.stderr,
                    )
                    stop["now"] = True
                    code = 1
            time.sleep(0.5)
    except StackError as exc:
        print(f"devstack: error: {exc}", file=sys.stderr)
        code = 1
    finally:
        print("\ndevstack: stopping …", flush=True)
        for label in reversed(started):
            if label == "prometheus":
                prometheus.stop(cfg)
            else:
                stop_service(cfg, label)
        cli.down(cfg)
    return code
