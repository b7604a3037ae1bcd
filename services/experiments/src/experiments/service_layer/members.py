"""Members as this service knows them: the author projection, their standing, erasure and the
data export.

Erased-author policy (README): erasure removes what the member wrote and who they were, and
never edits text anyone else wrote. Their comments are deleted (with the reports on them), and
so are the reports they filed on others' comments; the experiments they registered stay, as the
municipality's public record, without them as an owner; the projection row keeps only the id
with a neutral placeholder name; old events kept here (outbox, dead letters) that name them by
`member_id` or `author_id` lose the fields that describe them (name, address, organisation,
municipality), nothing else.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from uskalla_events import EventTables
from uskalla_events.contracts import MemberJoined, MemberUpdated
from uskalla_kit.auth import Standing

from experiments.adapters.models import (
    Author,
    Comment,
    CommentReport,
    Experiment,
    ExperimentFollower,
    ExperimentOwner,
)
from experiments.service_layer.views import evaluation_view, iso, summary_view

#: Shown instead of an erased member's name.
ERASED_NAME = "Poistettu jäsen"
#: What an event says about the member it names: gone from the old events kept here on erasure.
PERSONAL_FIELDS = frozenset({"name", "email", "organisation", "municipality_code"})


def member_changed(
    session: Session, member: MemberJoined | MemberUpdated, changed_at: datetime
) -> None:
    """Keep the projection current: name, organisation, role and whether active (a joined
    member is). An event older than the one the row reflects changes nothing, and nothing
    brings an erased member back."""
    values = {
        "name": member.name,
        "organisation": member.organisation,
        "role": member.role,
        "active": member.active if isinstance(member, MemberUpdated) else True,
        "changed_at": changed_at,
    }
    statement = insert(Author).values(member_id=member.member_id, erased=False, **values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Author.member_id],
            set_=values,
            where=Author.erased.is_(False)
            & or_(Author.changed_at.is_(None), Author.changed_at <= changed_at),
        )
    )


def standing(session: Session, member_id: uuid.UUID) -> Standing | None:
    """The member's role and state as the events last told them; None if not heard of yet."""
    row = session.execute(
        select(Author.role, Author.active, Author.erased).where(Author.member_id == member_id)
    ).one_or_none()
    if row is None:
        return None
    # A row from before migration 0006 has no role until the member's next event: the token's
    # role (at most coordinator) stands meanwhile.
    return Standing(role=row.role or "coordinator", active=row.active, erased=row.erased)


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
    session.execute(delete(Comment).where(Comment.author_id == member_id))  # reports cascade
    session.execute(delete(CommentReport).where(CommentReport.member_id == member_id))
    session.execute(delete(ExperimentOwner).where(ExperimentOwner.member_id == member_id))
    session.execute(delete(ExperimentFollower).where(ExperimentFollower.member_id == member_id))
    _scrub_envelopes(session, tables, str(member_id))
    erased = {"name": ERASED_NAME, "organisation": "", "role": "member", "active": False}
    statement = insert(Author).values(member_id=member_id, erased=True, **erased)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Author.member_id], set_={**erased, "erased": True}
        )
    )


def _scrub_envelopes(session: Session, tables: EventTables, member_id: str) -> None:
    """Old events (ours in the outbox, others' in the dead letters) naming the member by id
    lose what they say about them; free text (a title, say) is never searched or changed."""
    for table in (tables.outbox, tables.dead_letters):
        data = table.c.envelope["data"]
        rows = session.execute(
            select(table.c.id, table.c.envelope).where(
                or_(data["member_id"].astext == member_id, data["author_id"].astext == member_id)
            )
        ).all()
        for row in rows:
            envelope = dict(row.envelope)
            envelope["data"] = {
                k: v for k, v in envelope["data"].items() if k not in PERSONAL_FIELDS
            }
            session.execute(update(table).where(table.c.id == row.id).values(envelope=envelope))


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
    follows = session.execute(
        select(ExperimentFollower.experiment_id, ExperimentFollower.followed_at)
        .where(ExperimentFollower.member_id == member_id)
        .order_by(ExperimentFollower.followed_at, ExperimentFollower.experiment_id)
    ).all()
    return {
        "member_id": str(member_id),
        "profile": None
        if author is None
        else {
            "name": author.name,
            "organisation": author.organisation,
            "role": author.role,
            "active": author.active,
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
        "follows": [
            {"experiment_id": str(f.experiment_id), "followed_at": iso(f.followed_at)}
            for f in follows
        ],
    }
