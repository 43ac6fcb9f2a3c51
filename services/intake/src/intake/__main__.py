"""`python -m intake` serves; `keys issue|revoke --client NAME` manages Open311 client keys; `retention`
anonymises old reporter data."""

from __future__ import annotations

import argparse
from typing import Any

from intake.settings import IntakeSettings
from servicekit import cli, db


def _key_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["issue", "revoke"])
    parser.add_argument("--client", required=True, help="the client application's name")
    parser.add_argument("--keep-newest", type=int, default=0, help="with revoke: keep the N newest keys")


async def _keys(settings: IntakeSettings, args: argparse.Namespace) -> str:
    from intake.adapters.clients import issue_client_key, revoke_client_keys
    from intake.bootstrap import MIGRATIONS

    async def work(conn: Any) -> str:
        if args.action == "issue":
            return await issue_client_key(conn, args.client)
        count = await revoke_client_keys(conn, args.client, args.keep_newest)
        return f"revoked {count} key(s) of {args.client}"

    result: str = await db.with_connection(settings.database_url, MIGRATIONS, "intake", work)
    return result


COMMANDS = [
    cli.Command("keys", "issue or revoke Open311 client api_keys (stored hashed)", _key_arguments, _keys),
    cli.retention_command("intake", "intake.adapters.repository:anonymise"),
]


def main(argv: list[str] | None = None) -> None:
    cli.main("intake", IntakeSettings, COMMANDS, argv)


if __name__ == "__main__":
    main()
