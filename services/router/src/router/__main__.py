"""`python -m router` serves; `python -m router retention --older-than-days N` anonymises old reporter data."""

from router.settings import RouterSettings
from servicekit import cli


def main(argv: list[str] | None = None) -> None:
    cli.main(
        "router", RouterSettings, [cli.retention_command("router", "router.adapters.store:anonymise")], argv
    )


if __name__ == "__main__":
    main()
