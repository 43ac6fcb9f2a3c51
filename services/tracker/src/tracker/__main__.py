"""`python -m tracker` serves; `python -m tracker keys …` manages API keys; `python -m tracker replay` rebuilds."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from servicekit.logs import configure
from servicekit.settings import load_settings
from tracker.settings import TrackerSettings


async def _keys(settings: TrackerSettings, args: argparse.Namespace) -> None:
    from servicekit import db
    from tracker.auth import issue_key, revoke_keys
    from tracker.bootstrap import MIGRATIONS

    async def work(conn: Any) -> str:
        if args.action == "issue":
            return await issue_key(conn, args.role, args.subject, args.label)
        count = await revoke_keys(conn, args.role, args.subject, args.keep_newest)
        return f"revoked {count} key(s) of {args.role} {args.subject}"

    print(await db.with_connection(settings.database_url, MIGRATIONS, "tracker", work))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tracker")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the service (default)")
    keys = sub.add_parser("keys", help="issue or revoke API keys (stored hashed)")
    keys.add_argument("action", choices=["issue", "revoke"])
    keys.add_argument("--role", choices=["unit", "consultant", "operator"], required=True)
    keys.add_argument("--subject", required=True, help="unit id, or the consultant's/operator's id")
    keys.add_argument("--label")
    keys.add_argument("--keep-newest", type=int, default=0, help="with revoke: keep the N newest keys")
    rep = sub.add_parser("replay", help="rebuild the state from the topics into an EMPTY database")
    rep.add_argument("--database-url", required=True)
    args = parser.parse_args(argv)
    settings = load_settings(TrackerSettings)
    configure("tracker", settings.log_level)
    if args.command == "keys":
        asyncio.run(_keys(settings, args))
    elif args.command == "replay":
        from cityconfig import load_city
        from tracker import replay

        count = replay.run(
            args.database_url, settings.kafka_bootstrap_servers, load_city(settings.city_config_dir)
        )
        print(f"replayed {count[0]} events into {args.database_url} ({count[1]} unprocessable, skipped)")
    else:
        from servicekit.service import serve
        from tracker.bootstrap import build_app

        serve(build_app(settings), settings)


if __name__ == "__main__":
    main(sys.argv[1:])
