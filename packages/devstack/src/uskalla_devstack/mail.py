"""A mail sink running inside this process: SMTP in, and (optionally) the HTTP page to read it."""

from __future__ import annotations

import threading
from pathlib import Path

from uskalla_mailsink import MailStore
from uskalla_mailsink.server import http_server, smtp_controller


class MailSink:
    def __init__(
        self, directory: Path, host: str, smtp_port: int, http_port: int | None = None
    ) -> None:
        self.store = MailStore(directory)
        self.host, self.smtp_port = host, smtp_port
        self.controller = smtp_controller(self.store, host, smtp_port)
        self.controller.start()
        self.web = http_server(self.store, host, http_port) if http_port is not None else None
        if self.web is not None:
            threading.Thread(target=self.web.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.web is not None:
            self.web.shutdown()
            self.web.server_close()
        self.controller.stop()
