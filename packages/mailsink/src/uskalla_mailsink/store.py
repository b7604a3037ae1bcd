"""Captured mail on disk: one .eml file per message, readable as JSON."""

from __future__ import annotations

import email
import email.policy
import threading
import time
import uuid
from pathlib import Path
from typing import Any


class MailStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._parsed: dict[str, dict[str, Any]] = {}  # files never change once written

    def save(self, raw: bytes, envelope_to: list[str], envelope_from: str | None = None) -> str:
        """Keep a message as a final MTA would: `Return-Path` (the envelope sender, where
        bounces go) and the envelope recipients in front of it."""
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
        tmp = self.directory / f".{name}.tmp"
        front = [f"Return-Path: <{envelope_from}>"] if envelope_from is not None else []
        front += [f"X-Envelope-To: {to}" for to in envelope_to]
        tmp.write_bytes(b"".join(f"{line}\r\n".encode() for line in front) + raw)
        tmp.rename(self.directory / f"{name}.eml")  # readers never see half a message
        return name

    def ids(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.eml"))

    def raw(self, message_id: str) -> bytes:
        path = self.directory / f"{Path(message_id).name}.eml"
        return path.read_bytes()

    def message(self, message_id: str) -> dict[str, Any]:
        with self._lock:
            cached = self._parsed.get(message_id)
        if cached is None:
            cached = self._parse(message_id)
            with self._lock:
                self._parsed[message_id] = cached
        return cached

    def _parse(self, message_id: str) -> dict[str, Any]:
        msg = email.message_from_bytes(self.raw(message_id), policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        return {
            "id": message_id,
            "to": msg.get_all("X-Envelope-To", []),
            "headers": {k: str(v) for k, v in msg.items()},
            "subject": str(msg.get("Subject", "")),
            "text": text.get_content() if text is not None else "",
            "html": html.get_content() if html is not None else None,
            "attachments": [
                {"filename": part.get_filename(), "content_type": part.get_content_type()}
                for part in msg.iter_attachments()
            ],
        }

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        found = [self.message(i) for i in self.ids()]
        if to:
            found = [m for m in found if to.lower() in (t.lower() for t in m["to"])]
        return found

    def clear(self) -> None:
        for path in self.directory.glob("*.eml"):
            path.unlink(missing_ok=True)
        with self._lock:
            self._parsed.clear()
