from router.bootstrap import build_app
from router.settings import RouterSettings
from servicekit.logs import configure
from servicekit.service import serve
from servicekit.settings import load_settings


def main() -> None:
    settings = load_settings(RouterSettings)
    configure("router", settings.log_level)
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
