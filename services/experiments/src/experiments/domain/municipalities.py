"""Finland's current municipality codes (Statistics Finland), shipped with the service."""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources


@cache
def municipality_codes() -> frozenset[str]:
    text = resources.files("experiments").joinpath("data/municipalities.csv").read_text("utf-8")
    return frozenset(row["code"] for row in csv.DictReader(text.splitlines()))
