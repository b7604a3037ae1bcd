"""Comment use cases: read, post, edit, delete, report, and the coordinators' moderation."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from uskalla_events.contracts import CommentPosted
from uskalla_events.outbox import Outbox
from uskalla_kit import Problem

from experiments.adapters.models import Comment, CommentReport, Experiment
from experiments.domain.access import Viewer, can_change_comment
from experiments.domain.moderation import should_auto_hide
from experiments.domain.plaintext import render_comment
from experiments.domain.vocabulary import REPORT_REASONS
from experiments.service_layer.experiments import load, now
from experiments.service_layer.followers import follower_ids
from experiments.service_layer.views import comment_view, iso, names


def _load_comment(session: Session, viewer: Viewer, comment_id: uuid.UUID) -> Comment:
    """The comment, if the viewer may see its experiment (404 otherwise), locked for change."""
    comment = session.scalar(select(Comment).where(Comment.id == comment_id).with_for_update())
    if comment is None:
        raise Problem(404, "Not Found", "No such comment.")
    try:
        load(session, viewer, comment.experiment_id)
    except Problem:
        raise Problem(404, "Not Found", "No such comment.") from None
    return comment


def _changeable(session: Session, viewer: Viewer, comment_id: uuid.UUID) -> Comment:
    comment = _load_comment(session, viewer, comment_id)
    if not can_change_comment(viewer, str(comment.author_id)):
        raise Problem(403, "Forbidden", "Only the comment's author and coordinators may do this.")
    return comment


def _hide(comment: Comment, reason: str) -> None:
    comment.hidden = True
    comment.hidden_reason = reason
    comment.hidden_at = now()


def moderation_view(session: Session, comment: Comment) -> dict[str, Any]:
    reasons = dict(
        session.execute(
            select(CommentReport.reason, func.count())
            .where(CommentReport.comment_id == comment.id)
            .group_by(CommentReport.reason)
        ).all()
    )
    return {
        **comment_view(comment, names(session, [comment.author_id])),
        "hidden": comment.hidden,
        "hidden_reason": comment.hidden_reason,
        "hidden_at": iso(comment.hidden_at),
        "restored_at": iso(comment.restored_at),
        "report_count": sum(reasons.values()),
        "reports": {r: int(reasons.get(r, 0)) for r in REPORT_REASONS},
    }


class Comments:
    """Members' comments on experiments, their reports, and the coordinators' moderation."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def visible_page(
        self, session: Session, viewer: Viewer, experiment_id: uuid.UUID, page: int, per_page: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Visible comments of an experiment the viewer may see, oldest first."""
        load(session, viewer, experiment_id)
        where = (Comment.experiment_id == experiment_id, Comment.hidden.is_(False))
        total = session.scalar(select(func.count()).select_from(Comment).where(*where)) or 0
        comments = session.scalars(
            select(Comment)
            .where(*where)
            .order_by(Comment.created_at, Comment.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
        known = names(session, (c.author_id for c in comments))
        return [comment_view(c, known) for c in comments], int(total)

    def post(
        self, session: Session, viewer: Viewer, experiment_id: uuid.UUID, body: str
    ) -> dict[str, Any]:
        assert viewer.member_id is not None
        experiment, owners = load(session, viewer, experiment_id)
        comment = Comment(
            id=uuid.uuid4(),
            experiment_id=experiment.id,
            author_id=uuid.UUID(viewer.member_id),
            body=body,
            body_html=render_comment(body),
            created_at=now(),
            hidden=False,
        )
        session.add(comment)
        session.flush()
        self.outbox.add(
            session,
            CommentPosted(
                comment_id=comment.id,
                experiment_id=experiment.id,
                experiment_title=experiment.title,
                author_id=comment.author_id,
                owner_ids=sorted(uuid.UUID(o) for o in owners),
                follower_ids=follower_ids(session, experiment.id),
                posted_at=comment.created_at,
            ),
        )
        return comment_view(comment, names(session, [comment.author_id]))

    def edit(
        self, session: Session, viewer: Viewer, comment_id: uuid.UUID, body: str
    ) -> dict[str, Any]:
        comment = _changeable(session, viewer, comment_id)
        if body != comment.body:
            comment.body = body
            comment.body_html = render_comment(body)
            comment.edited_at = now()
        session.flush()
        return comment_view(comment, names(session, [comment.author_id]))

    def remove(self, session: Session, viewer: Viewer, comment_id: uuid.UUID) -> None:
        session.delete(_changeable(session, viewer, comment_id))

    def report(
        self, session: Session, viewer: Viewer, comment_id: uuid.UUID, reason: str
    ) -> dict[str, Any]:
        """File one report per member per comment; hide the comment once enough members did."""
        assert viewer.member_id is not None and reason in REPORT_REASONS
        comment = _load_comment(session, viewer, comment_id)
        if str(comment.author_id) == viewer.member_id:
            raise Problem(409, "Conflict", "You cannot report your own comment.")
        added = session.execute(
            insert(CommentReport)
            .values(
                comment_id=comment.id,
                member_id=uuid.UUID(viewer.member_id),
                reason=reason,
                created_at=now(),
            )
            .on_conflict_do_nothing()
            .returning(CommentReport.member_id)
        ).first()
        if added is None:
            raise Problem(409, "Conflict", "You have already reported this comment.")
        # Reports filed before a coordinator restored the comment were judged already.
        counting = select(func.count(func.distinct(CommentReport.member_id))).where(
            CommentReport.comment_id == comment.id
        )
        if comment.restored_at is not None:
            counting = counting.where(CommentReport.created_at > comment.restored_at)
        counted = session.scalar(counting)
        if not comment.hidden and should_auto_hide(int(counted or 0)):
            _hide(comment, "reports")
        session.flush()
        return {"status": "reported", "hidden": comment.hidden}

    def hide(self, session: Session, viewer: Viewer, comment_id: uuid.UUID) -> dict[str, Any]:
        comment = _load_comment(session, viewer, comment_id)
        if not comment.hidden or comment.hidden_reason != "coordinator":
            _hide(comment, "coordinator")
        session.flush()
        return moderation_view(session, comment)

    def restore(self, session: Session, viewer: Viewer, comment_id: uuid.UUID) -> dict[str, Any]:
        comment = _load_comment(session, viewer, comment_id)
        comment.hidden = False
        comment.hidden_reason = None
        comment.hidden_at = None
        comment.restored_at = now()
        session.flush()
        return moderation_view(session, comment)

    def moderation_page(
        self, session: Session, status: str, page: int, per_page: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Reported or hidden comments, most recently reported or hidden first."""
        last_report = (
            select(func.max(CommentReport.created_at))
            .where(CommentReport.comment_id == Comment.id)
            .scalar_subquery()
        )
        reported = (
            select(CommentReport.comment_id).where(CommentReport.comment_id == Comment.id).exists()
        )
        where = {
            "hidden": Comment.hidden.is_(True),
            "reported": reported,
            "all": or_(Comment.hidden.is_(True), reported),
        }[status]
        total = session.scalar(select(func.count()).select_from(Comment).where(where)) or 0
        comments = session.scalars(
            select(Comment)
            .join(Experiment, Experiment.id == Comment.experiment_id)
            .where(where)
            .order_by(func.greatest(last_report, Comment.hidden_at).desc().nulls_last(), Comment.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
        return [moderation_view(session, c) for c in comments], int(total)
