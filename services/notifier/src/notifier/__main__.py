from notifier.bootstrap import build_app
from notifier.settings import NotifierSettings
from servicekit.logs import configure
from servicekit.service import serve
from servicekit.settings import load_settings


def main() -> None:
    settings = load_settings(NotifierSettings)
    configure("notifier", settings.log_level)
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
