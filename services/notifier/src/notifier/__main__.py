"""`python -m notifier` serves; `python -m notifier retention --older-than-days N` anonymises old reporter data."""

from notifier.settings import NotifierSettings
from servicekit import cli


def main(argv: list[str] | None = None) -> None:
    cli.main(
        "notifier",
        NotifierSettings,
        [cli.retention_command("notifier", "notifier.adapters.deliveries:anonymise")],
        argv,
    )


if __name__ == "__main__":
    main()
