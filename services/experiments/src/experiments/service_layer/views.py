"""What the API shows of experiments and comments: JSON-ready dicts (ISO dates, string ids)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from experiments.adapters.models import Author, Comment, Experiment
from experiments.domain.plaintext import render_comment

#: Shown for a member whose joining event has not reached this service yet.
UNKNOWN_NAME = "Jäsen"


def iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def names(session: Session, member_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Display names from the author projection (erased members show the placeholder)."""
    ids = set(member_ids)
    if not ids:
        return {}
    found = dict(
        session.execute(
            select(Author.member_id, Author.name).where(Author.member_id.in_(ids))
        ).all()
    )
    return {i: found.get(i, UNKNOWN_NAME) for i in ids}


def person(member_id: uuid.UUID, known: dict[uuid.UUID, str]) -> dict[str, str]:
    return {"id": str(member_id), "name": known.get(member_id, UNKNOWN_NAME)}


def evaluation_view(e: Experiment) -> dict[str, Any] | None:
    if e.outcome is None:
        return None
    return {
        "outcome": e.outcome,
        "rating": e.rating,
        "what_worked": e.what_worked or "",
        "what_failed": e.what_failed or "",
        "lessons": e.lessons or "",
        "next_steps": e.next_steps or "",
        "evaluated_at": iso(e.evaluated_at),
    }


def summary_view(row: Any) -> dict[str, Any]:
    """A list item, from a row of search.SUMMARY_COLUMNS (or an Experiment)."""
    return {
        "id": str(row.id),
        "title": row.title,
        "summary": row.summary,
        "kind": row.kind,
        "scale": row.scale,
        "themes": list(row.themes),
        "municipality_codes": list(row.municipality_codes),
        "organisation": row.organisation,
        "language": row.language,
        "stage": row.stage,
        "outcome": row.outcome,
        "rating": row.rating,
        "starts_on": iso(row.starts_on),
        "ends_on": iso(row.ends_on),
        "published_at": iso(row.published_at),
        "updated_at": iso(row.updated_at),
    }


def experiment_view(
    e: Experiment,
    owners: list[dict[str, str]],
    comment_count: int,
    followers: int = 0,
    following: bool = False,
) -> dict[str, Any]:
    """The experiment as its page shows it; `following` is whether the caller follows it."""
    return {
        **summary_view(e),
        "description": e.description,
        # The comments' plain-text rules: escaped, paragraphs and line breaks, links.
        "description_html": render_comment(e.description),
        "problem": e.problem,
        "goals": e.goals,
        "links": list(e.links),
        "looking_for": e.looking_for,
        "published": e.published_at is not None,
        "created_at": iso(e.created_at),
        "owners": owners,
        "evaluation": evaluation_view(e),
        "comment_count": comment_count,
        "follower_count": followers,
        "following": following,
    }


def comment_view(c: Comment, known: dict[uuid.UUID, str]) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "experiment_id": str(c.experiment_id),
        "author": person(c.author_id, known),
        "body": c.body,
        "body_html": c.body_html,
        "created_at": iso(c.created_at),
        "edited_at": iso(c.edited_at),
    }
