"""Open data: stats (failed experiments counted), the Atom feed and the CSV export, well-formed
whatever is stored; and no text field takes what would break them."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any
from xml.etree import ElementTree as ET

from experiments.adapters.models import Experiment
from experiments.entrypoints.schemas import StatsSchema
from flask.testing import FlaskClient
from sqlalchemy import update
from uskalla_kit import Runtime
from uskalla_kit.text import CONTROL

ATOM = "{http://www.w3.org/2005/Atom}"


def evaluated(
    api: Any, client: FlaskClient, owner: Any, outcome: str, **fields: Any
) -> dict[str, Any]:
    experiment = api.published(owner, stage="running", **fields)
    url = f"/api/v1/experiments/{experiment['id']}"
    answer = client.put(
        url + "/evaluation", json={"outcome": outcome, "rating": 5}, headers=owner.headers
    )
    assert answer.status_code == 200
    return experiment


def test_stats_count_published_experiments_by_each_dimension(
    api: Any, client: FlaskClient, people: dict[str, Any]
) -> None:
    owner = people["owner"]
    evaluated(
        api,
        client,
        owner,
        "failed",
        themes=["innovative-procurement"],
        municipality_codes=["091"],
        starts_on="2025-03-01",
        ends_on="2025-09-01",
    )
    evaluated(
        api,
        client,
        owner,
        "succeeded",
        themes=["innovative-procurement", "employment"],
        municipality_codes=["091", "049"],
    )
    api.published(owner, themes=[], municipality_codes=[], starts_on=None, ends_on=None)
    api.create(owner)  # drafts are not counted
    answer = client.get("/api/v1/experiments/stats")
    assert answer.status_code == 200
    api.conforms(StatsSchema, answer.json)
    stats = answer.json
    assert stats["total"] == 3
    assert stats["by_outcome"] == {
        "succeeded": 1,
        "partly_succeeded": 0,
        "failed": 1,
        "inconclusive": 0,
    }
    assert stats["by_stage"] == {
        "idea": 1,
        "planning": 0,
        "running": 2,
        "evaluated": 0,
        "discontinued": 0,
    }
    assert stats["by_theme"]["innovative-procurement"] == 2
    assert stats["by_theme"]["employment"] == 1 and stats["by_theme"]["digital-municipality"] == 0
    assert list(stats["by_theme"])[:2] == ["digital-municipality", "health-and-social-reform"]
    assert stats["by_municipality"] == {"049": 1, "091": 2}
    assert stats["by_start_year"] == {"2025": 1, "2026": 1}
    failed_only = client.get("/api/v1/experiments/stats", query_string={"outcome": "failed"}).json
    assert failed_only["total"] == 1 and failed_only["by_municipality"] == {"091": 1}
    assert client.get("/api/v1/experiments/stats", query_string={"stage": "x"}).status_code == 422


def test_atom_feed_is_valid_atom(api: Any, client: FlaskClient, people: dict[str, Any]) -> None:
    empty = client.get("/api/v1/experiments/feed.atom")
    assert empty.status_code == 200 and ET.fromstring(empty.data).tag == f"{ATOM}feed"
    first = api.published(people["owner"], title="Ensimmäinen <kokeilu> & muuta")
    second = api.published(people["owner"], language="sv", title="Andra försöket")
    api.create(people["owner"], title="Luonnos")
    answer = client.get("/api/v1/experiments/feed.atom")
    assert answer.status_code == 200
    assert answer.mimetype == "application/atom+xml"
    assert answer.data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    feed = ET.fromstring(answer.data)
    # RFC 4287: a feed has id, title, updated, an author (here for all entries) and a self link
    for tag in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{tag}") is not None, tag
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == (
        "https://uskalla.test/api/v1/experiments/feed.atom"
    )
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        "Andra försöket",
        "Ensimmäinen <kokeilu> & muuta",
    ]
    newest = entries[0]
    assert newest.findtext(f"{ATOM}id") == f"urn:uuid:{second['id']}"
    assert (
        newest.find(f"{ATOM}link").get("href")
        == f"https://uskalla.test/sv/experiments/{second['id']}"
    )
    assert (
        entries[1].find(f"{ATOM}link").get("href")
        == f"https://uskalla.test/experiments/{first['id']}"
    )
    for entry in entries:
        for tag in ("id", "title", "updated", "published", "summary"):
            assert entry.findtext(f"{ATOM}{tag}"), tag
    assert [c.get("term") for c in entries[0].findall(f"{ATOM}category")] == [
        "digital-municipality"
    ]


def test_csv_export_of_published_experiments(
    api: Any, client: FlaskClient, people: dict[str, Any]
) -> None:
    owner = people["owner"]
    failed = evaluated(
        api,
        client,
        owner,
        "failed",
        title='=HYPERLINK("http://x")',
        themes=["employment", "innovative-procurement"],
    )
    plain = api.published(owner, title='Tavallinen, "lainausmerkein"\nja rivinvaihdolla')
    api.create(owner, title="Luonnos")
    answer = client.get("/api/v1/experiments.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [r["id"] for r in rows] == [plain["id"], failed["id"]]
    assert rows[0]["title"] == plain["title"]
    assert rows[1]["title"].startswith("'=HYPERLINK")  # no formula runs in a spreadsheet
    assert rows[1]["outcome"] == "failed" and rows[1]["rating"] == "5"
    assert rows[1]["themes"] == "employment;innovative-procurement"
    assert rows[1]["url"] == f"https://uskalla.test/experiments/{failed['id']}"
    filtered = client.get("/api/v1/experiments.csv", query_string={"outcome": "failed"})
    assert [r["id"] for r in csv.DictReader(io.StringIO(filtered.get_data(as_text=True)))] == [
        failed["id"]
    ]
    assert client.get("/api/v1/experiments.csv", query_string={"kind": "x"}).status_code == 422


#: Characters no text field takes now, as rows stored before that rule may still hold them.
CONTROLS = "\x01\x0b\x1b\x7f\x85\ufffe"


def stored_before_the_rule(runtime: Runtime, experiment_id: str) -> None:
    """Put control characters into a published experiment's texts, straight into the table."""
    with runtime.db.transaction() as session:
        session.execute(
            update(Experiment)
            .where(Experiment.id == uuid.UUID(experiment_id))
            .values(
                title=f"Otsikko{CONTROLS}loppu",
                summary=f"Tiivistelmä{CONTROLS}",
                organisation=f"\x1b[31mKunta{CONTROLS}",
                lessons=f"Opit\x85{CONTROLS}",
                themes=["employment", f"x{CONTROLS}"],
            )
        )


def test_feed_and_csv_stay_well_formed_whatever_is_stored(
    api: Any, client: FlaskClient, runtime: Runtime, people: dict[str, Any]
) -> None:
    experiment = evaluated(api, client, people["owner"], "failed")
    stored_before_the_rule(runtime, experiment["id"])

    feed = ET.fromstring(client.get("/api/v1/experiments/feed.atom").data)
    entry = feed.find(f"{ATOM}entry")
    assert entry is not None
    assert entry.findtext(f"{ATOM}title") == "Otsikkoloppu"
    assert entry.findtext(f"{ATOM}summary") == "Tiivistelmä"
    assert [c.get("term") for c in entry.findall(f"{ATOM}category")] == ["employment", "x"]

    text = client.get("/api/v1/experiments.csv").get_data(as_text=True)
    assert len(text.splitlines()) == 2  # no line break a reader might see inside a cell
    header, row = csv.reader(io.StringIO(text, newline=""))
    cells = dict(zip(header, row, strict=True))
    assert cells["title"] == "Otsikkoloppu" and cells["summary"] == "Tiivistelmä"
    assert cells["organisation"] == "[31mKunta" and cells["lessons"] == "Opit"
    assert cells["themes"] == "employment;x"
    assert not [c for c in row if CONTROL.search(c)]


def test_every_text_field_refuses_control_characters_and_stores_nothing(
    api: Any, client: FlaskClient, people: dict[str, Any]
) -> None:
    """The kit's rule holds for every way text enters this service: JSON bodies (each text
    field of an experiment, its evaluation, a comment), query strings; form bodies not at all."""
    owner = people["owner"].headers
    experiment = api.published(people["owner"], stage="running")
    url = f"/api/v1/experiments/{experiment['id']}"
    comment = client.post(url + "/comments", json={"body": "Moi"}, headers=owner).json
    before = client.get(url, headers=owner).json
    fields = ("title", "summary", "description", "organisation", "problem", "goals", "looking_for")
    for control in CONTROLS + "\x00\r\x9f\uffff":
        bad = f"a{control}b"
        for field in fields:
            created = client.post(
                "/api/v1/experiments", json={**api.draft, field: bad}, headers=owner
            )
            edited = client.patch(url, json={field: bad}, headers=owner)
            for answer in (created, edited):
                assert answer.status_code == 422, (field, control)
                assert answer.mimetype == "application/problem+json"
                assert list(answer.json["errors"]) == [field]
        for field in ("what_worked", "what_failed", "lessons", "next_steps"):
            answer = client.put(
                url + "/evaluation", json={"outcome": "failed", field: bad}, headers=owner
            )
            assert answer.status_code == 422 and list(answer.json["errors"]) == [field]
        for answer in (
            client.post(url + "/comments", json={"body": bad}, headers=owner),
            client.patch(f"/api/v1/comments/{comment['id']}", json={"body": bad}, headers=owner),
        ):
            assert answer.status_code == 422 and list(answer.json["errors"]) == ["body"]
        for path in ("/api/v1/experiments", "/api/v1/experiments.csv", "/api/v1/experiments/stats"):
            answer = client.get(path, query_string={"q": bad})
            assert answer.status_code == 422 and list(answer.json["errors"]) == ["q"], path
    form = client.post("/api/v1/experiments", data={**api.draft, "title": "a\x1bb"}, headers=owner)
    assert form.status_code == 415
    assert client.get(url, headers=owner).json == before
    assert client.get("/api/v1/experiments", headers=owner).json["total"] == 1
    comments = client.get(url + "/comments").json["items"]
    assert [c["body"] for c in comments] == ["Moi"]
