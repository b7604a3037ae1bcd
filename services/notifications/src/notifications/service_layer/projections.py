"""Keeping a projection row current: an insert, or an update of the row already there."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session


def upsert(
    session: Session, model: Any, key: Any, values: dict[str, Any], where: Any = None
) -> None:
    statement = insert(model).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[key],
            set_={k: statement.excluded[k] for k in values if k != key.key},
            where=where,
        )
    )
