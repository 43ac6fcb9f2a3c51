"""`python -m router` serves; `python -m router retention --older-than-days N` anonymises old reporter data."""

from __future__ import annotations

import argparse
import asyncio
import sys

from router.settings import RouterSettings
from servicekit import retention
from servicekit.logs import configure
from servicekit.settings import load_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="router")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the service (default)")
    retention.add_arguments(
        sub.add_parser("retention", help="anonymise reporter data of cases closed long ago")
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings(RouterSettings)
    configure("router", settings.log_level)
    if args.command == "retention":
        from router.adapters.store import anonymise
        from router.bootstrap import MIGRATIONS

        changed = asyncio.run(
            retention.run(
                settings.database_url,
                MIGRATIONS,
                "router",
                args.tracker_url or settings.tracker_url,
                args.older_than_days,
                anonymise,
            )
        )
        print(f"anonymised reporter data of {changed} case(s)")
        return
    from router.bootstrap import build_app
    from servicekit.service import serve

    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
