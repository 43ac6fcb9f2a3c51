"""`python -m tracker` serves; `keys …` manages API keys; `replay` rebuilds the state from the topics."""

from __future__ import annotations

import argparse
from typing import Any

from servicekit import cli, db
from tracker.settings import TrackerSettings


def _key_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["issue", "revoke"])
    parser.add_argument("--role", choices=["unit", "consultant", "operator"], required=True)
    parser.add_argument("--subject", required=True, help="unit id, or the consultant's/operator's id")
    parser.add_argument("--label")
    parser.add_argument("--keep-newest", type=int, default=0, help="with revoke: keep the N newest keys")


async def _keys(settings: TrackerSettings, args: argparse.Namespace) -> str:
    from tracker.auth import issue_key, revoke_keys
    from tracker.bootstrap import MIGRATIONS

    async def work(conn: Any) -> str:
        if args.action == "issue":
            return await issue_key(conn, args.role, args.subject, args.label)
        count = await revoke_keys(conn, args.role, args.subject, args.keep_newest)
        return f"revoked {count} key(s) of {args.role} {args.subject}"

    result: str = await db.with_connection(settings.database_url, MIGRATIONS, "tracker", work)
    return result


def _replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", required=True, help="an EMPTY database")


async def _replay(settings: TrackerSettings, args: argparse.Namespace) -> str:
    from cityconfig import load_city
    from tracker import replay

    count, skipped = await replay.replay(
        args.database_url, settings.kafka_bootstrap_servers, load_city(settings.city_config_dir)
    )
    return f"replayed {count} events into {args.database_url} ({skipped} unprocessable, skipped)"


COMMANDS = [
    cli.Command("keys", "issue or revoke API keys (stored hashed)", _key_arguments, _keys),
    cli.Command(
        "replay", "rebuild the state from the topics into an EMPTY database", _replay_arguments, _replay
    ),
]


def main(argv: list[str] | None = None) -> None:
    cli.main("tracker", TrackerSettings, COMMANDS, argv)


if __name__ == "__main__":
    main()
