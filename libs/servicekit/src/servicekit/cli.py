"""The command line every service shares: `python -m <service>` serves (or `serve`); services add commands."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from servicekit import retention
from servicekit.logs import configure
from servicekit.service import serve
from servicekit.settings import ServiceSettings, load_settings


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Any, argparse.Namespace], Coroutine[Any, Any, str]]  # (settings, args) -> what to print


def retention_command(service: str, anonymise: str) -> Command:
    """`retention --older-than-days N`: anonymise with `module:function` for cases closed long ago."""

    async def run(settings: Any, args: argparse.Namespace) -> str:
        module, function = anonymise.split(":")
        migrations = importlib.import_module(f"{service}.bootstrap").MIGRATIONS
        changed = await retention.run(
            settings.database_url,
            migrations,
            service,
            args.tracker_url or settings.tracker_url,
            args.older_than_days,
            getattr(importlib.import_module(module), function),
        )
        return f"anonymised reporter data of {changed} case(s)"

    return Command(
        "retention", "anonymise reporter data of cases closed long ago", retention.add_arguments, run
    )


def main(
    service: str,
    settings_cls: type[ServiceSettings],
    commands: Sequence[Command] = (),
    argv: list[str] | None = None,
) -> None:
    parser = argparse.ArgumentParser(prog=service)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the service (default)")
    for command in commands:
        command.arguments(sub.add_parser(command.name, help=command.help))
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings(settings_cls)
    configure(service, settings.log_level)
    for command in commands:
        if args.command == command.name:
            print(asyncio.run(command.run(settings, args)))
            return
    serve(importlib.import_module(f"{service}.bootstrap").build_app(settings), settings)
