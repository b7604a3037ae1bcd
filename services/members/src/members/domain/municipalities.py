"""Finland's current municipalities (Statistics Finland codes), shipped with the service."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Municipality:
    code: str
    name_fi: str
    name_sv: str
    region_code: str
    region_fi: str
    region_sv: str


@cache
def municipalities() -> dict[str, Municipality]:
    text = resources.files("members").joinpath("data/municipalities.csv").read_text("utf-8")
    return {row["code"]: Municipality(**row) for row in csv.DictReader(text.splitlines())}
