"""Run the sink: SMTP in (aiosmtpd), and an HTTP page plus JSON API to read what arrived."""

from __future__ import annotations

import argparse
import html
import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from aiosmtpd.controller import Controller

from uskalla_mailsink.store import MailStore


class _Handler:
    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.store.save(
            envelope.original_content or envelope.content,
            list(envelope.rcpt_tos),
            envelope_from=envelope.mail_from,
        )
        return "250 Message accepted for delivery"


def smtp_controller(store: MailStore, host: str, port: int) -> Controller:
    return Controller(_Handler(store), hostname=host, port=port, data_size_limit=25 * 1024 * 1024)


def http_server(store: MailStore, host: str, port: int) -> ThreadingHTTPServer:
    class Page(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query)
            if url.path == "/healthz":
                self._send(200, b'{"status":"ok"}', "application/json")
            elif url.path == "/api/messages":
                to = query.get("to", [None])[0]
                body = json.dumps(store.messages(to), ensure_ascii=False).encode()
                self._send(200, body, "application/json; charset=utf-8")
            elif url.path.startswith("/messages/"):
                try:
                    raw = store.raw(url.path.rsplit("/", 1)[1].removesuffix(".eml"))
                except FileNotFoundError:
                    self._send(404, b"not found", "text/plain")
                    return
                self._send(200, raw, "message/rfc822")
            elif url.path == "/":
                rows = "".join(
                    f"<li><a href='/messages/{m['id']}.eml'>{html.escape(m['subject'])}</a>"
                    f" to {html.escape(', '.join(m['to']))}<pre>{html.escape(m['text'])}</pre></li>"
                    for m in reversed(store.messages())
                )
                page = (
                    "<!doctype html><meta charset=utf-8><title>Mail</title>"
                    f"<h1>Captured mail</h1><ol>{rows}</ol>"
                )
                self._send(200, page.encode(), "text/html; charset=utf-8")
            else:
                self._send(404, b"not found", "text/plain")

        def do_DELETE(self) -> None:
            if urlparse(self.path).path == "/api/messages":
                store.clear()
                self._send(204, b"", "text/plain")
            else:
                self._send(404, b"not found", "text/plain")

    return ThreadingHTTPServer((host, port), Page)


def main() -> None:
    parser = argparse.ArgumentParser(description="SMTP sink with an HTTP page to read the mail")
    parser.add_argument("--dir", default="var/mail")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    args = parser.parse_args()
    store = MailStore(Path(args.dir))
    controller = smtp_controller(store, args.host, args.smtp_port)
    controller.start()
    web = http_server(store, args.host, args.http_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threading.Thread(target=web.serve_forever, daemon=True).start()
    print(
        f"mail sink: SMTP {args.host}:{args.smtp_port}, read at http://{args.host}:{args.http_port}/",
        flush=True,
    )
    stop.wait()
    web.shutdown()
    controller.stop()


if __name__ == "__main__":
    main()
