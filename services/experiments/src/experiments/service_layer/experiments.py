"""Experiment use cases: create, edit, owners, publish, stage moves and the evaluation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, select, text
from sqlalchemy.orm import Session
from uskalla_events.contracts import (
    ExperimentEvaluated,
    ExperimentPublished,
    ExperimentStageChanged,
)
from uskalla_events.outbox import Outbox
from uskalla_kit import Problem, validation_problem

from experiments.adapters.models import Author, Comment, Experiment, ExperimentOwner, Theme
from experiments.adapters.search import SUMMARY_COLUMNS, ExperimentFilters, search_experiments
from experiments.domain.access import Viewer, can_manage, can_view
from experiments.domain.stages import StageError, check_evaluable, check_transition
from experiments.domain.vocabulary import SEARCH_CONFIGS
from experiments.service_layer.followers import add_follower, follow_counts, follower_ids
from experiments.service_layer.views import experiment_view, names, person, summary_view

#: Fields a PATCH may change directly (owners and stage have their own rules).
EDITABLE = (
    "title",
    "summary",
    "description",
    "kind",
    "scale",
    "themes",
    "municipality_codes",
    "organisation",
    "problem",
    "goals",
    "starts_on",
    "ends_on",
    "links",
    "looking_for",
    "language",
)
EVALUATION = ("outcome", "rating", "what_worked", "what_failed", "lessons", "next_steps")


def now() -> datetime:
    return datetime.now(UTC)


def not_found() -> Problem:
    return Problem(404, "Not Found", "No such experiment.")


def owner_ids(session: Session, experiment_id: uuid.UUID) -> frozenset[str]:
    rows = session.scalars(
        select(ExperimentOwner.member_id).where(ExperimentOwner.experiment_id == experiment_id)
    )
    return frozenset(str(m) for m in rows)


def load(
    session: Session, viewer: Viewer, experiment_id: uuid.UUID, *, manage: bool = False
) -> tuple[Experiment, frozenset[str]]:
    """The experiment if the viewer may see it (404 otherwise, so drafts do not leak); with
    `manage`, 403 unless the viewer owns it or coordinates. Locked for update when managing."""
    query = select(Experiment).where(Experiment.id == experiment_id)
    experiment = session.scalar(query.with_for_update() if manage else query)
    if experiment is None:
        raise not_found()
    owners = owner_ids(session, experiment.id)
    if not can_view(viewer, published=experiment.published_at is not None, owners=owners):
        raise not_found()
    if manage and not can_manage(viewer, owners):
        raise Problem(
            403, "Forbidden", "Only the experiment's owners and coordinators may do this."
        )
    return experiment, owners


#: An experiment's own text search configuration, by its language.
_CONFIG = (
    "CASE language "
    + " ".join(
        f"WHEN '{code}' THEN '{config}'::regconfig" for code, config in SEARCH_CONFIGS.items()
    )
    + " END"
)
_WORDS = text(
    f"to_tsvector({_CONFIG}, title || ' ' || summary || ' ' || description)"
    f" @@ websearch_to_tsquery({_CONFIG}, :q)"
)


def owned_conditions(filters: ExperimentFilters) -> list[ColumnElement[bool]]:
    """The list's filters on the experiments table itself (an owner's few, drafts included)."""
    conditions: list[ColumnElement[bool]] = []
    if filters.q:
        conditions.append(_WORDS.bindparams(q=filters.q))  # type: ignore[arg-type]
    if filters.theme:
        conditions.append(Experiment.themes.contains([filters.theme]))
    if filters.municipality_code:
        conditions.append(Experiment.municipality_codes.contains([filters.municipality_code]))
    for name in ("stage", "kind", "scale", "outcome", "language"):
        value = getattr(filters, name)
        if value:
            conditions.append(getattr(Experiment, name) == value)
    return conditions


def check_themes(session: Session, themes: list[str]) -> None:
    known = set(session.scalars(select(Theme.slug).where(Theme.slug.in_(themes))))
    unknown = [t for t in themes if t not in known]
    if unknown:
        raise validation_problem({"themes": [f"Unknown theme: {t}." for t in unknown]})


def check_dates(experiment: Experiment) -> None:
    if experiment.starts_on and experiment.ends_on and experiment.ends_on < experiment.starts_on:
        raise validation_problem({"ends_on": ["The end date is before the start date."]})


def shown(session: Session, experiment: Experiment, viewer: Viewer) -> dict[str, Any]:
    """The experiment as the API shows it: its owners by name, its visible comments' count, how
    many follow it and whether the viewer does."""
    owners = session.scalars(
        select(ExperimentOwner.member_id)
        .where(ExperimentOwner.experiment_id == experiment.id)
        .order_by(ExperimentOwner.added_at, ExperimentOwner.member_id)
    ).all()
    known = names(session, owners)
    comments = session.scalar(
        select(func.count())
        .select_from(Comment)
        .where(Comment.experiment_id == experiment.id, Comment.hidden.is_(False))
    )
    followers, since = follow_counts(session, experiment.id, viewer)
    return experiment_view(
        experiment,
        [person(o, known) for o in owners],
        int(comments or 0),
        followers=followers,
        following=since is not None,
    )


def change_owners(
    session: Session, experiment: Experiment, owners: frozenset[str], change: dict[str, Any]
) -> None:
    add = {str(m) for m in change.get("add", [])} - owners
    remove = {str(m) for m in change.get("remove", [])}
    if add:
        usable = {
            str(m)
            for m in session.scalars(
                select(Author.member_id).where(
                    Author.member_id.in_([uuid.UUID(m) for m in add]), Author.erased.is_(False)
                )
            )
        }
        unknown = sorted(add - usable)
        if unknown:
            raise validation_problem(
                {"owners.add": [f"Not a member of the network: {m}." for m in unknown]}
            )
    if not (owners | add) - remove:
        raise Problem(409, "Conflict", "An experiment must keep at least one owner.")
    stamp = now()
    for member in sorted(add):
        session.add(
            ExperimentOwner(
                experiment_id=experiment.id, member_id=uuid.UUID(member), added_at=stamp
            )
        )
        # Owners follow their own experiments; one removed later keeps following until they stop.
        add_follower(session, experiment.id, uuid.UUID(member), stamp)
    if remove:
        session.execute(
            delete(ExperimentOwner).where(
                ExperimentOwner.experiment_id == experiment.id,
                ExperimentOwner.member_id.in_([uuid.UUID(m) for m in remove]),
            )
        )


def _actor(viewer: Viewer) -> uuid.UUID | None:
    return uuid.UUID(viewer.member_id) if viewer.member_id else None


class Experiments:
    """Reading the registry, and registering, editing, publishing and evaluating experiments.
    Each change answers the experiment as shown (`shown`)."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def search(
        self, session: Session, filters: ExperimentFilters, page: int, per_page: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the published experiments matching the filters, and how many match."""
        rows, total = search_experiments(session, filters, page, per_page)
        return [summary_view(r) for r in rows], total

    def owned(
        self, session: Session, viewer: Viewer, filters: ExperimentFilters, page: int, per_page: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the caller's own experiments, drafts included (`?owner=me`).

        The list's filters apply; `q` matches the title, summary and description in the
        experiment's language. Newest first (drafts by their creation), or `updated`."""
        assert viewer.member_id is not None
        member = uuid.UUID(viewer.member_id)
        where = [
            exists().where(
                ExperimentOwner.experiment_id == Experiment.id,
                ExperimentOwner.member_id == member,
            ),
            *owned_conditions(filters),
        ]
        total = session.scalar(select(func.count()).select_from(Experiment).where(*where))
        newest = func.coalesce(Experiment.published_at, Experiment.created_at)
        order = Experiment.updated_at if filters.sort == "updated" else newest
        rows = session.execute(
            select(*SUMMARY_COLUMNS)
            .where(*where)
            .order_by(order.desc(), Experiment.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
        return [summary_view(r) for r in rows], int(total or 0)

    def themes(self, session: Session) -> list[dict[str, str]]:
        """Every theme in its set order, named in Finnish, Swedish and English."""
        rows = session.scalars(select(Theme).order_by(Theme.position, Theme.slug))
        return [
            {"slug": t.slug, "name_fi": t.name_fi, "name_sv": t.name_sv, "name_en": t.name_en}
            for t in rows
        ]

    def detail(self, session: Session, viewer: Viewer, experiment_id: uuid.UUID) -> dict[str, Any]:
        experiment, _ = load(session, viewer, experiment_id)
        return shown(session, experiment, viewer)

    def create(self, session: Session, viewer: Viewer, data: dict[str, Any]) -> dict[str, Any]:
        """A draft owned by its creator."""
        assert viewer.member_id is not None
        check_themes(session, data["themes"])
        stamp = now()
        experiment = Experiment(id=uuid.uuid4(), created_at=stamp, updated_at=stamp)
        for name in (*EDITABLE, "stage"):
            if name in data:
                setattr(experiment, name, data[name])
        check_dates(experiment)
        session.add(experiment)
        session.flush()
        session.add(
            ExperimentOwner(
                experiment_id=experiment.id, member_id=uuid.UUID(viewer.member_id), added_at=stamp
            )
        )
        session.flush()
        add_follower(session, experiment.id, uuid.UUID(viewer.member_id), stamp)
        return shown(session, experiment, viewer)

    def update(
        self, session: Session, viewer: Viewer, experiment_id: uuid.UUID, data: dict[str, Any]
    ) -> dict[str, Any]:
        experiment, owners = load(session, viewer, experiment_id, manage=True)
        if "themes" in data:
            check_themes(session, data["themes"])
        for name in EDITABLE:
            if name in data:
                setattr(experiment, name, data[name])
        check_dates(experiment)
        if "owners" in data:
            change_owners(session, experiment, owners, data["owners"])
        experiment.updated_at = now()
        session.flush()
        return shown(session, experiment, viewer)

    def publish(self, session: Session, viewer: Viewer, experiment_id: uuid.UUID) -> dict[str, Any]:
        """Make the experiment public; publishing again changes nothing and sends no event."""
        experiment, _ = load(session, viewer, experiment_id, manage=True)
        if experiment.published_at is None:
            experiment.published_at = experiment.updated_at = now()
            session.flush()
            self.outbox.add(
                session,
                ExperimentPublished(
                    experiment_id=experiment.id,
                    title=experiment.title,
                    summary=experiment.summary,
                    themes=list(experiment.themes),
                    municipality_codes=list(experiment.municipality_codes),
                    published_at=experiment.published_at,
                ),
            )
        return shown(session, experiment, viewer)

    def change_stage(
        self, session: Session, viewer: Viewer, experiment_id: uuid.UUID, target: str
    ) -> dict[str, Any]:
        """Move the experiment on; a published one's followers hear of it (same transaction)."""
        experiment, _ = load(session, viewer, experiment_id, manage=True)
        try:
            check_transition(
                experiment.stage, target, has_evaluation=experiment.outcome is not None
            )
        except StageError as exc:
            raise Problem(409, "Stage change not allowed", str(exc)) from None
        previous = experiment.stage
        experiment.stage = target
        experiment.updated_at = now()
        session.flush()
        if experiment.published_at is not None:
            self.outbox.add(
                session,
                ExperimentStageChanged(
                    experiment_id=experiment.id,
                    title=experiment.title,
                    stage=target,
                    previous_stage=previous,
                    actor_id=_actor(viewer),
                    follower_ids=follower_ids(session, experiment.id),
                    changed_at=experiment.updated_at,
                ),
            )
        return shown(session, experiment, viewer)

    def evaluate(
        self, session: Session, viewer: Viewer, experiment_id: uuid.UUID, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Record (or replace) the evaluation; a failed outcome is as complete a result as any.

        A published experiment's followers hear of a first or changed evaluation (the same one
        again tells nobody)."""
        experiment, _ = load(session, viewer, experiment_id, manage=True)
        try:
            check_evaluable(experiment.stage)
        except StageError as exc:
            raise Problem(409, "Evaluation not allowed yet", str(exc)) from None
        first = experiment.outcome is None
        changed = first or any(getattr(experiment, n) != data[n] for n in EVALUATION)
        for name in EVALUATION:
            setattr(experiment, name, data[name])
        experiment.evaluated_at = experiment.updated_at = now()
        session.flush()
        if changed and experiment.published_at is not None:
            self.outbox.add(
                session,
                ExperimentEvaluated(
                    experiment_id=experiment.id,
                    title=experiment.title,
                    outcome=experiment.outcome or "",
                    first=first,
                    actor_id=_actor(viewer),
                    follower_ids=follower_ids(session, experiment.id),
                    evaluated_at=experiment.evaluated_at,
                ),
            )
        return shown(session, experiment, viewer)
