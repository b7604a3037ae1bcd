"""Follow e-mails (list `follows`): what happens to a followed experiment, gathered per member.

Each event about a followed experiment (a stage change, an evaluation, a comment) leaves one
`follow_activity` row per follower who wants to hear of it: never the one who did it, only a
member with `follows` on (or a digest, which takes the rows instead) and an address that is not
suppressed. The relay's beat (`send_due`) mails each member whose oldest row is older than
`FOLLOW_BATCH_MINUTES` ONE e-mail with all their rows, so changes made within a few minutes of
each other arrive together. Exactly once: the member's recipient row is locked (`SKIP LOCKED`:
a racing relay passes them by), and their rows are deleted in the transaction that inserts the
delivery, whose cause (`follows:{first row}`) is unique with the kind and address.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from uskalla_events import Database
from uskalla_events.contracts import CommentPosted, ExperimentEvaluated, ExperimentStageChanged
from uskalla_events.vocabulary import DigestFrequency

from notifications.adapters.models import FollowActivity, Recipient
from notifications.config import Settings
from notifications.domain import links
from notifications.service_layer.deliveries import Deliveries, now
from notifications.service_layer.suppressions import is_suppressed

log = logging.getLogger(__name__)

KIND = "follows"
#: Members mailed per beat (the next beat goes on).
BATCH = 200


class Activity(StrEnum):
    STAGE_CHANGED = "stage_changed"
    EVALUATED = "evaluated"
    COMMENT = "comment"


def mailed_at_once() -> Any:
    """Recipients whose activity comes in a follow e-mail (not in a digest)."""
    return (
        Recipient.active.is_(True)
        & Recipient.follows.is_(True)
        & (Recipient.digest == DigestFrequency.OFF)
    )


def wants_activity() -> Any:
    """Recipients who hear of followed experiments: by follow e-mail or in their digest."""
    return (Recipient.active.is_(True)) & or_(
        Recipient.follows.is_(True), Recipient.digest != DigestFrequency.OFF
    )


def take_activity(
    session: Session, member_id: uuid.UUID, before: datetime | None = None
) -> list[dict[str, Any]]:
    """The member's waiting activity (created before `before`), oldest first, deleted in this
    transaction: whatever delivery carries it carries it once."""
    statement = delete(FollowActivity).where(FollowActivity.member_id == member_id)
    if before is not None:
        statement = statement.where(FollowActivity.created_at < before)
    rows = session.execute(
        statement.returning(
            FollowActivity.id,
            FollowActivity.experiment_id,
            FollowActivity.kind,
            FollowActivity.title,
            FollowActivity.detail,
            FollowActivity.occurred_at,
            FollowActivity.created_at,
        )
    ).all()
    ordered = sorted(rows, key=lambda r: (r.created_at, r.occurred_at, str(r.id)))
    return [
        {
            "id": str(r.id),
            "experiment_id": str(r.experiment_id),
            "kind": r.kind,
            "title": r.title,
            "detail": r.detail,
            "occurred_at": r.occurred_at.isoformat(),
        }
        for r in ordered
    ]


def with_links(base: str, language: str, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        item | {"experiment_url": links.experiment(base, language, item["experiment_id"])}
        for item in items
    ]


class Follows:
    def __init__(self, settings: Settings, db: Database, deliveries: Deliveries) -> None:
        self.db = db
        self.deliveries = deliveries
        self.window = timedelta(minutes=settings.follow_batch_minutes)
        self.base = settings.common.public_base_url

    def stage_changed(self, session: Session, e: ExperimentStageChanged) -> None:
        self.record(
            session,
            e.follower_ids,
            not_to={e.actor_id},
            experiment_id=e.experiment_id,
            kind=Activity.STAGE_CHANGED,
            source=f"{e.stage}@{e.changed_at.astimezone(UTC).isoformat()}",
            title=e.title,
            detail=e.stage,
            occurred_at=e.changed_at,
        )

    def evaluated(self, session: Session, e: ExperimentEvaluated) -> None:
        self.record(
            session,
            e.follower_ids,
            not_to={e.actor_id},
            experiment_id=e.experiment_id,
            kind=Activity.EVALUATED,
            source=f"evaluation@{e.evaluated_at.astimezone(UTC).isoformat()}",
            title=e.title,
            detail=e.outcome,
            occurred_at=e.evaluated_at,
        )

    def comment_posted(self, session: Session, e: CommentPosted, at: datetime) -> None:
        # Owners hear of comments by their own e-mail (list `comments`), not twice.
        self.record(
            session,
            e.follower_ids,
            not_to={e.author_id, *e.owner_ids},
            experiment_id=e.experiment_id,
            kind=Activity.COMMENT,
            source=str(e.comment_id),
            title=e.experiment_title,
            detail="",
            occurred_at=e.posted_at or at,
        )

    def record(
        self,
        session: Session,
        follower_ids: Iterable[uuid.UUID],
        *,
        not_to: set[uuid.UUID | None],
        experiment_id: uuid.UUID,
        kind: Activity,
        source: str,
        title: str,
        detail: str,
        occurred_at: datetime,
    ) -> int:
        """One activity row per follower who wants it (never the actor); how many."""
        ids = sorted(set(follower_ids) - not_to)
        if not ids:
            return 0
        members = session.scalars(
            select(Recipient).where(Recipient.member_id.in_(ids), wants_activity())
        ).all()
        recorded = 0
        for member in members:
            if is_suppressed(session, member.email, list_mail=True):
                continue
            session.execute(
                insert(FollowActivity)
                .values(
                    member_id=member.member_id,
                    experiment_id=experiment_id,
                    kind=kind.value,
                    source=source[:100],
                    title=title[:300],
                    detail=detail[:40],
                    occurred_at=occurred_at,
                )
                .on_conflict_do_nothing(constraint="uq_follow_activity_member_kind_source")
            )
            recorded += 1
        return recorded

    def send_due(self) -> int:
        """A relay job: one e-mail to each member whose oldest activity has waited the batch
        window (members with a digest get theirs there); how many were scheduled."""
        cutoff = now() - self.window
        with self.db.transaction() as session:
            # Rows nobody wants any more (lists turned off, deactivated, gone) are dropped.
            session.execute(
                delete(FollowActivity).where(
                    FollowActivity.created_at <= cutoff,
                    ~exists().where(
                        Recipient.member_id == FollowActivity.member_id, wants_activity()
                    ),
                )
            )
            due = session.scalars(
                select(FollowActivity.member_id)
                .join(Recipient, Recipient.member_id == FollowActivity.member_id)
                .where(mailed_at_once())
                .group_by(FollowActivity.member_id)
                .having(func.min(FollowActivity.created_at) <= cutoff)
                .order_by(func.min(FollowActivity.created_at))
                .limit(BATCH)
            ).all()
        scheduled = 0
        for member_id in due:
            with self.db.transaction() as session:
                scheduled += self.mail_member(session, member_id) is not None
        return scheduled

    def mail_member(self, session: Session, member_id: uuid.UUID) -> uuid.UUID | None:
        member = session.scalar(
            select(Recipient)
            .where(Recipient.member_id == member_id, mailed_at_once())
            .with_for_update(skip_locked=True)
        )
        if member is None:
            return None  # another relay has them, or they changed their mind meanwhile
        items = take_activity(session, member_id)
        if not items:
            return None
        return self.deliveries.schedule(
            session,
            kind=KIND,
            email=member.email,
            language=member.language,
            cause=f"{KIND}:{items[0]['id']}",
            context={
                "name": member.name,
                "items": with_links(self.base, member.language, items),
            },
            member_id=member.member_id,
        )
