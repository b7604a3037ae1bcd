"""The member projection as requests reach it: a token holder's standing, the hold a write
takes against the writer's erasure, and a member's data export.

The projection is kept up to date by the event handlers (`members`); this class is how views
and the caller check reach it, as they reach every other use case."""

from __future__ import annotations

from experiments.service_layer import members


class Authors:
    standing = staticmethod(members.standing)
    hold = staticmethod(members.hold)
    export = staticmethod(members.export)
