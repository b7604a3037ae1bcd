"""The bounce receiver: an SMTP server (aiosmtpd) for the MX of `BOUNCE_DOMAIN`.

It takes mail only for addresses we signed (and postmaster/abuse), refuses what is too large,
and answers 250 only once the report is recorded or kept in the database; any trouble there is
a 451, so the sending server tries again and nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller

from notifications.service_layer.bounces import BounceReceiver

log = logging.getLogger(__name__)


class BounceHandler:
    def __init__(self, receiver: BounceReceiver) -> None:
        self.receiver = receiver

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if not self.receiver.accepts(address):
            return "550 5.1.1 No such bounce address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        try:
            outcome = await asyncio.to_thread(
                self.receiver.receive, str(envelope.mail_from or ""), list(envelope.rcpt_tos), raw
            )
        except Exception:
            log.exception("a bounce could not be recorded; the sender will retry")
            return "451 4.3.0 Try again later"
        log.info("bounce received", extra={"outcome": outcome})
        return "250 OK"


def bounce_server(receiver: BounceReceiver, host: str, port: int, max_size: int) -> Controller:
    """The server, not yet started (`start()` runs it in a thread of its own)."""
    return Controller(
        BounceHandler(receiver),
        hostname=host,
        port=port,
        data_size_limit=max_size,
        decode_data=False,
        ident="uskalla bounces",
    )
