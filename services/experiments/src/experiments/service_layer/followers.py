"""Who follows an experiment: becoming a follower, the followers now, counts, erasure."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from experiments.adapters.models import ExperimentFollower
from experiments.domain.access import Viewer
from experiments.service_layer.views import iso


def add_follower(
    session: Session, experiment_id: uuid.UUID, member_id: uuid.UUID, stamp: datetime
) -> bool:
    """Make the member a follower; False if they were one already (nothing changes then)."""
    added = session.execute(
        insert(ExperimentFollower)
        .values(experiment_id=experiment_id, member_id=member_id, followed_at=stamp)
        .on_conflict_do_nothing()
        .returning(ExperimentFollower.member_id)
    ).first()
    return added is not None


def follower_ids(session: Session, experiment_id: uuid.UUID) -> list[uuid.UUID]:
    """Everyone following the experiment now, in id order (what the events carry)."""
    return list(
        session.scalars(
            select(ExperimentFollower.member_id)
            .where(ExperimentFollower.experiment_id == experiment_id)
            .order_by(ExperimentFollower.member_id)
        )
    )


def follow_counts(
    session: Session, experiment_id: uuid.UUID, viewer: Viewer
) -> tuple[int, datetime | None]:
    """How many follow the experiment, and since when the viewer does (None: not at all)."""
    count = session.scalar(
        select(func.count())
        .select_from(ExperimentFollower)
        .where(ExperimentFollower.experiment_id == experiment_id)
    )
    since = None
    if viewer.member_id is not None:
        since = session.scalar(
            select(ExperimentFollower.followed_at).where(
                ExperimentFollower.experiment_id == experiment_id,
                ExperimentFollower.member_id == uuid.UUID(viewer.member_id),
            )
        )
    return int(count or 0), since


def state_view(session: Session, experiment_id: uuid.UUID, viewer: Viewer) -> dict[str, Any]:
    count, since = follow_counts(session, experiment_id, viewer)
    return {
        "experiment_id": str(experiment_id),
        "following": since is not None,
        "followed_at": iso(since),
        "follower_count": count,
    }


def remove_member(session: Session, member_id: uuid.UUID) -> None:
    """An erased member follows nothing."""
    session.execute(delete(ExperimentFollower).where(ExperimentFollower.member_id == member_id))
