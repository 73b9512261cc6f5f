"""Running the app under uvicorn: alone (``publisher serve``) or beside the daemon
(``publisher run --serve``), in a thread of the same process that stops with it."""

from __future__ import annotations

import threading

import uvicorn

from ..config import Settings
from ..jobs import check_sending, require_secret
from ..store import Store
from .app import create_app


class WebServer:
    """uvicorn for the readers' app; refuses to start with an unsafe secret."""

    def __init__(
        self, settings: Settings, store: Store, host: str | None = None, port: int | None = None
    ) -> None:
        require_secret(settings, "serve the readers' pages")
        check_sending(settings)  # confirmation mails go out from here
        self.host = host or settings.web.host
        self.port = port or settings.web.port
        config = uvicorn.Config(
            create_app(settings, store),
            host=self.host,
            port=self.port,
            proxy_headers=settings.web.trust_proxy,
            server_header=False,
            log_level="info",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None

    def run(self) -> None:
        """In the foreground until SIGTERM or Ctrl-C (uvicorn's own handlers)."""
        self.server.run()

    def start(self) -> None:
        """In a background thread (no signal handlers there: the daemon owns them)."""
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)


def start_web(settings: Settings, store: Store) -> WebServer:
    web = WebServer(settings, store)
    web.start()
    return web
