"""`python -m intake` serves; `python -m intake keys issue|revoke --client NAME` manages Open311 client keys."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from intake.settings import IntakeSettings
from servicekit import retention
from servicekit.logs import configure
from servicekit.settings import load_settings


async def _keys(settings: IntakeSettings, args: argparse.Namespace) -> None:
    from intake.adapters.clients import issue_client_key, revoke_client_keys
    from intake.bootstrap import MIGRATIONS
    from servicekit import db

    async def work(conn: Any) -> str:
        if args.action == "issue":
            return await issue_client_key(conn, args.client)
        count = await revoke_client_keys(conn, args.client, args.keep_newest)
        return f"revoked {count} key(s) of {args.client}"

    print(await db.with_connection(settings.database_url, MIGRATIONS, "intake", work))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="intake")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the service (default)")
    keys = sub.add_parser("keys", help="issue or revoke Open311 client api_keys (stored hashed)")
    keys.add_argument("action", choices=["issue", "revoke"])
    keys.add_argument("--client", required=True, help="the client application's name")
    keys.add_argument("--keep-newest", type=int, default=0, help="with revoke: keep the N newest keys")
    ret = sub.add_parser("retention", help="anonymise reporter data of cases closed long ago")
    retention.add_arguments(ret)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings(IntakeSettings)
    configure("intake", settings.log_level)
    if args.command == "keys":
        asyncio.run(_keys(settings, args))
        return
    if args.command == "retention":
        from intake.adapters.repository import anonymise
        from intake.bootstrap import MIGRATIONS

        changed = asyncio.run(
            retention.run(
                settings.database_url,
                MIGRATIONS,
                "intake",
                args.tracker_url or settings.tracker_url,
                args.older_than_days,
                anonymise,
            )
        )
        print(f"anonymised reporter data of {changed} case(s)")
        return
    from intake.bootstrap import build_app
    from servicekit.service import serve

    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
