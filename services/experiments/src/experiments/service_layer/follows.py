"""Following experiments: follow, stop, the member's follows, and who follows what.

A follower is told of a followed experiment's stage changes, evaluation and comments (the
events carry the followers of that moment; notifications leaves out whoever acted). Only a
published experiment can be followed; owners follow their own from the moment they own it,
drafts included, and may stop like anyone.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, exists, func, or_, select, true
from sqlalchemy.orm import Session
from uskalla_kit import Problem

from experiments.adapters.models import Experiment, ExperimentFollower, ExperimentOwner
from experiments.adapters.search import SUMMARY_COLUMNS
from experiments.domain.access import Viewer
from experiments.service_layer.experiments import load, now
from experiments.service_layer.followers import add_follower, state_view
from experiments.service_layer.views import iso, summary_view


class Follows:
    """Members following experiments."""

    def follow(
        self, session: Session, viewer: Viewer, experiment_id: uuid.UUID
    ) -> tuple[dict[str, Any], bool]:
        """Follow a published experiment; True when the member did not follow it before.

        A draft is 404 to those who cannot see it (drafts do not leak) and 409 to its owners
        and coordinators: only what is public can be followed."""
        assert viewer.member_id is not None
        experiment, _ = load(session, viewer, experiment_id)
        if experiment.published_at is None:
            raise Problem(409, "Conflict", "Only a published experiment can be followed.")
        created = add_follower(session, experiment.id, uuid.UUID(viewer.member_id), now())
        return state_view(session, experiment.id, viewer), created

    def unfollow(
        self, session: Session, viewer: Viewer, experiment_id: uuid.UUID
    ) -> dict[str, Any]:
        """Stop following (owners too); not following already is no error."""
        assert viewer.member_id is not None
        experiment, _ = load(session, viewer, experiment_id)
        session.execute(
            delete(ExperimentFollower).where(
                ExperimentFollower.experiment_id == experiment.id,
                ExperimentFollower.member_id == uuid.UUID(viewer.member_id),
            )
        )
        return state_view(session, experiment.id, viewer)

    def followed_page(
        self, session: Session, viewer: Viewer, page: int, per_page: int
    ) -> tuple[list[dict[str, Any]], int]:
        """The experiments the member follows that they may see, most recently followed first."""
        assert viewer.member_id is not None
        member = uuid.UUID(viewer.member_id)
        owns = exists().where(
            ExperimentOwner.experiment_id == Experiment.id, ExperimentOwner.member_id == member
        )
        visible = true() if viewer.coordinator else or_(Experiment.published_at.is_not(None), owns)
        where = (ExperimentFollower.member_id == member, visible)
        joined = select(ExperimentFollower.followed_at, *SUMMARY_COLUMNS).join(
            Experiment, Experiment.id == ExperimentFollower.experiment_id
        )
        total = session.scalar(
            select(func.count())
            .select_from(ExperimentFollower)
            .join(Experiment, Experiment.id == ExperimentFollower.experiment_id)
            .where(*where)
        )
        rows = session.execute(
            joined.where(*where)
            .order_by(ExperimentFollower.followed_at.desc(), Experiment.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
        items = [{**summary_view(r), "followed_at": iso(r.followed_at)} for r in rows]
        return items, int(total or 0)
