"""Who may see and change an experiment or a comment: owners, authors and coordinators."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Viewer:
    """The caller as the rules see it: anonymous has no member id."""

    member_id: str | None = None
    coordinator: bool = False


def can_view(viewer: Viewer, *, published: bool, owners: frozenset[str]) -> bool:
    """Published experiments are public; drafts only for their owners and coordinators."""
    return published or viewer.coordinator or viewer.member_id in owners


def can_manage(viewer: Viewer, owners: frozenset[str]) -> bool:
    return viewer.coordinator or (viewer.member_id is not None and viewer.member_id in owners)


def can_change_comment(viewer: Viewer, author_id: str) -> bool:
    return viewer.coordinator or (viewer.member_id is not None and viewer.member_id == author_id)
