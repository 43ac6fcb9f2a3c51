"""`python -m devstack up|down|status|env|run` — the project's local stack without Docker."""

from __future__ import annotations

import argparse
import sys

from devstack import kafka, postgres, smtp
from devstack.config import StackConfig, load
from devstack.proc import StackError


def up(cfg: StackConfig) -> None:
    cfg.local.mkdir(parents=True, exist_ok=True)
    postgres.start(cfg)
    smtp.start(cfg)
    kafka.start(cfg)
    print(
        f"devstack: up — Kafka {cfg.kafka_bootstrap}, PostgreSQL 127.0.0.1:{cfg.pg_port}, "
        f"SMTP 127.0.0.1:{cfg.smtp_port}",
        flush=True,
    )


def down(cfg: StackConfig) -> None:
    from devstack import services

    services.stop_all(cfg)
    stopped = [
        name
        for name, fn in (("kafka", kafka.stop), ("mailbox", smtp.stop), ("postgres", postgres.stop))
        if fn(cfg)
    ]
    print(f"devstack: down ({', '.join(stopped) or 'nothing was running'})", flush=True)


def status(cfg: StackConfig) -> int:
    states = {
        "kafka": kafka.is_running(cfg),
        "postgres": postgres.is_running(cfg),
        "mailbox": smtp.is_running(cfg),
    }
    for name, running in states.items():
        print(f"{name:10s} {'running' if running else 'stopped'}")
    return 0 if all(states.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start Kafka, PostgreSQL and the SMTP mailbox (idempotent)")
    sub.add_parser("down", help="stop everything the stack started")
    sub.add_parser("status", help="what is running")
    sub.add_parser("env", help="print the environment variables that point at the stack")
    sub.add_parser("topics", help="create the topics on KAFKA_BOOTSTRAP_SERVERS (compose uses this)")
    sub.add_parser("tools", help="install what the tests need besides the stack (promtool)")
    run_p = sub.add_parser("run", help="start the stack and all services; Ctrl-C stops everything")
    run_p.add_argument("--no-prometheus", action="store_true")
    args = parser.parse_args(argv)
    cfg = load()
    try:
        if args.command == "up":
            up(cfg)
        elif args.command == "down":
            down(cfg)
        elif args.command == "status":
            return status(cfg)
        elif args.command == "env":
            for key, value in cfg.env().items():
                print(f"export {key}={value}")
        elif args.command == "topics":
            import asyncio
            import os

            bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", cfg.kafka_bootstrap)
            asyncio.run(kafka.ensure_topics(bootstrap, timeout=120))
            print(f"devstack: topics ready on {bootstrap}")
        elif args.command == "tools":
            from devstack import prometheus

            if prometheus.binary("promtool") is None:
                print("devstack: promtool is missing (apt-get install prometheus)", file=sys.stderr)
                return 1
        elif args.command == "run":
            from devstack import services

            return services.run_all(cfg, prometheus_on=not args.no_prometheus)
    except StackError as exc:
        print(f"devstack: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
