"""Events experiments consumes: the author projection."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from uskalla_events import Envelope, EventHandlers

from experiments.adapters.models import Author

#: Shown instead of an erased member's name.
ERASED_NAME = "Poistettu jäsen"


def register_handlers(handlers: EventHandlers) -> None:
    @handlers.on("members.member.joined.v1")
    @handlers.on("members.member.updated.v1")
    def member_changed(session: Session, event: Envelope) -> None:
        d = event.data
        values = {"member_id": d["member_id"], "name": d["name"], "organisation": d["organisation"]}
        statement = insert(Author).values(**values, erased=False)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[Author.member_id],
                set_={"name": d["name"], "organisation": d["organisation"]},
                where=Author.erased.is_(False),
            )
        )

    @handlers.on("members.member.erased.v1")
    def member_erased(session: Session, event: Envelope) -> None:
        values = {
            "member_id": event.data["member_id"],
            "name": ERASED_NAME,
            "organisation": "",
            "erased": True,
        }
        statement = insert(Author).values(**values)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[Author.member_id],
                set_={"name": ERASED_NAME, "organisation": "", "erased": True},
            )
        )
