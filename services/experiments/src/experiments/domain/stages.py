"""The stage flow: idea → planning → running → evaluated, or discontinued from any open stage."""

from __future__ import annotations

from experiments.domain.vocabulary import Stage

FLOW = (Stage.IDEA, Stage.PLANNING, Stage.RUNNING, Stage.EVALUATED)
DISCONTINUED = Stage.DISCONTINUED
FINAL = frozenset({Stage.EVALUATED, DISCONTINUED})
#: Stages an experiment may be registered in directly (later ones are reached by the flow).
INITIAL = (Stage.IDEA, Stage.PLANNING, Stage.RUNNING)
#: Stages in which an evaluation can be recorded: once it runs, and after it ended either way.
EVALUABLE = frozenset({Stage.RUNNING, Stage.EVALUATED, DISCONTINUED})


class StageError(Exception):
    """A move the flow does not allow; the message says why, for the 409 answer."""


def check_transition(current: str, target: str, *, has_evaluation: bool) -> None:
    """Raise StageError unless an experiment in `current` may move to `target` now."""
    if current == target:
        raise StageError(f"The experiment is already in the stage {current!r}.")
    if current in FINAL:
        raise StageError(f"The stage {current!r} is final; the experiment cannot move on.")
    if target == DISCONTINUED:
        return
    following = FLOW[FLOW.index(current) + 1]
    if target != following:
        raise StageError(
            f"From {current!r} the experiment can move only to {following.value!r} or "
            f"{DISCONTINUED.value!r}."
        )
    if target == Stage.EVALUATED and not has_evaluation:
        raise StageError(
            "Record the evaluation first (PUT .../evaluation), then move to 'evaluated'."
        )


def check_evaluable(current: str) -> None:
    """Raise StageError unless an evaluation can be recorded in the stage `current`."""
    if current not in EVALUABLE:
        raise StageError(
            f"An experiment in the stage {current!r} cannot be evaluated yet; "
            "move it to 'running' first."
        )
