"""Finland's current municipalities with their regions (Statistics Finland codes)."""

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
    """Every municipality by its three-digit code, in the order of the codes."""
    text = resources.files(__package__).joinpath("data/municipalities.csv").read_text("utf-8")
    return {row["code"]: Municipality(**row) for row in csv.DictReader(text.splitlines())}


@cache
def municipality_codes() -> frozenset[str]:
    return frozenset(municipalities())


@cache
def region_codes() -> frozenset[str]:
    return frozenset(m.region_code for m in municipalities().values())
