"""Members as this service knows them: the author projection, erasure and the data export.

Erased-author policy (README): the member's comments are deleted (a comment is the member's
own words; reports on them go with them); the experiments they owned stay, as the
municipality's public record, without them as an owner; their name and e-mail address are
redacted from every experiment text, every other comment, and the outbox and dead-letter
envelopes; the projection row keeps only the id with a neutral placeholder name.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import String, cast, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from uskalla_events import EventTables

from experiments.adapters.models import Author, Comment, CommentReport, Experiment, ExperimentOwner
from experiments.domain.plaintext import render_comment
from experiments.domain.redaction import contains_any, redact
from experiments.service_layer.views import evaluation_view, iso, summary_view

#: Shown instead of an erased member's name.
ERASED_NAME = "Poistettu jäsen"
#: Experiment texts in which an erased member's name or address is redacted.
TEXT_FIELDS = (
    "title",
    "summary",
    "description",
    "organisation",
    "problem",
    "goals",
    "looking_for",
    "what_worked",
    "what_failed",
    "lessons",
    "next_steps",
)


def member_changed(session: Session, data: dict[str, Any]) -> None:
    """Keep the projection current; an erased member is never brought back by a late event."""
    values = {
        "name": data["name"],
        "organisation": data.get("organisation") or "",
        "email": data.get("email"),
    }
    statement = insert(Author).values(member_id=data["member_id"], erased=False, **values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Author.member_id], set_=values, where=Author.erased.is_(False)
        )
    )


def is_erased(session: Session, member_id: uuid.UUID) -> bool:
    """Whether the member has left the network (their tokens outlive them by minutes)."""
    return bool(session.scalar(select(Author.erased).where(Author.member_id == member_id)))


def hold(session: Session, member_id: uuid.UUID) -> bool:
    """For a write by the member, at the start of its transaction: wait for an erasure of the
    member in progress, keep one from starting until the transaction ends; False if erased.

    A lock on the member's id rather than on their projection row, which may not exist yet
    (their "joined" event can arrive after their first request)."""
    session.execute(select(func.pg_advisory_xact_lock_shared(_erasure_lock(member_id))))
    return not is_erased(session, member_id)


def _erasure_lock(member_id: uuid.UUID) -> int:
    """The advisory lock key of a member's erasure: their id's first 64 bits, signed."""
    return int.from_bytes(member_id.bytes[:8], "big", signed=True)


def erase(session: Session, tables: EventTables, member_id: uuid.UUID) -> None:
    # Waits for the member's writes in progress (`hold`); those that come later see "erased".
    session.execute(select(func.pg_advisory_xact_lock(_erasure_lock(member_id))))
    author = session.get(Author, member_id, with_for_update=True)
    needles = [n for n in (author.name, author.email) if n] if author and not author.erased else []
    session.execute(delete(Comment).where(Comment.author_id == member_id))
    session.execute(delete(ExperimentOwner).where(ExperimentOwner.member_id == member_id))
    if needles:
        _redact_texts(session, needles)
        _redact_envelopes(session, tables, needles)
    statement = insert(Author).values(
        member_id=member_id, name=ERASED_NAME, organisation="", email=None, erased=True
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Author.member_id],
            set_={"name": ERASED_NAME, "organisation": "", "email": None, "erased": True},
        )
    )


def _matching(column: Any, needles: list[str]) -> Any:
    return or_(*(column.ilike(f"%{_like(n)}%", escape="\\") for n in needles))


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _redact_texts(session: Session, needles: list[str]) -> None:
    columns = [getattr(Experiment, f) for f in TEXT_FIELDS]
    for experiment in session.scalars(
        select(Experiment).where(or_(*(_matching(c, needles) for c in columns))).with_for_update()
    ):
        for name in TEXT_FIELDS:
            value = getattr(experiment, name)
            if value:
                setattr(experiment, name, redact(value, needles))
    for comment in session.scalars(
        select(Comment).where(_matching(Comment.body, needles)).with_for_update()
    ):
        comment.body = redact(comment.body, needles)
        comment.body_html = render_comment(comment.body)


def _redact_envelopes(session: Session, tables: EventTables, needles: list[str]) -> None:
    """Old events (ours in the outbox, others' in the dead letters) may carry the name."""
    for table in (tables.outbox, tables.dead_letters):
        rows = session.execute(
            select(table.c.id, table.c.envelope).where(
                _matching(cast(table.c.envelope, String), needles)
            )
        ).all()
        for row in rows:
            session.execute(
                update(table)
                .where(table.c.id == row.id)
                .values(envelope=_scrub(row.envelope, needles))
            )


def _scrub(value: Any, needles: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, needles) if contains_any(value, needles) else value
    if isinstance(value, list):
        return [_scrub(v, needles) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, needles) for k, v in value.items()}
    return value


def export(session: Session, member_id: uuid.UUID) -> dict[str, Any]:
    """Everything this service holds about the member, for the gateway's merged export."""
    author = session.get(Author, member_id)
    owned = session.scalars(
        select(Experiment)
        .join(ExperimentOwner, ExperimentOwner.experiment_id == Experiment.id)
        .where(ExperimentOwner.member_id == member_id)
        .order_by(Experiment.created_at)
    ).all()
    comments = session.scalars(
        select(Comment).where(Comment.author_id == member_id).order_by(Comment.created_at)
    ).all()
    reports = session.scalars(
        select(CommentReport)
        .where(CommentReport.member_id == member_id)
        .order_by(CommentReport.created_at)
    ).all()
    return {
        "member_id": str(member_id),
        "profile": None
        if author is None
        else {
            "name": author.name,
            "organisation": author.organisation,
            "email": author.email,
            "erased": author.erased,
        },
        "experiments_owned": [
            {
                **summary_view(e),
                "published": e.published_at is not None,
                "description": e.description,
                "problem": e.problem,
                "goals": e.goals,
                "links": list(e.links),
                "looking_for": e.looking_for,
                "evaluation": evaluation_view(e),
                "created_at": iso(e.created_at),
            }
            for e in owned
        ],
        "comments": [
            {
                "id": str(c.id),
                "experiment_id": str(c.experiment_id),
                "body": c.body,
                "created_at": iso(c.created_at),
                "edited_at": iso(c.edited_at),
                "hidden": c.hidden,
            }
            for c in comments
        ],
        "comment_reports": [
            {"comment_id": str(r.comment_id), "reason": r.reason, "created_at": iso(r.created_at)}
            for r in reports
        ],
    }
