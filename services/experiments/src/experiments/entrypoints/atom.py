"""The Atom 1.0 (RFC 4287) feed of newly published experiments, built with xml.etree.

Stored text goes in through `printable`: a control character saved before the rule refusing
them would otherwise make the feed no XML at all."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from uskalla_kit.text import printable

from experiments.adapters.models import Experiment

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
#: The web UI's language prefixes (the agreed link form: {base}{prefix}/experiments/{id}).
PREFIX = {"fi": "", "sv": "/sv", "en": "/en"}
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        element.text = printable(text)
    return element


def experiment_url(base_url: str, experiment: Experiment) -> str:
    return f"{base_url}{PREFIX.get(experiment.language, '')}/experiments/{experiment.id}"


def build_feed(base_url: str, experiments: list[Experiment]) -> bytes:
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {XML_LANG: "fi"})
    self_url = f"{base_url}/api/v1/experiments/feed.atom"
    _sub(feed, "id", self_url)
    _sub(feed, "title", "Uskalla kokeilla: uudet kokeilut")
    _sub(feed, "subtitle", "Kuntien kokeilut MeUskaltajat-verkostossa")
    newest = max((e.updated_at for e in experiments), default=EPOCH)
    _sub(feed, "updated", newest.isoformat())
    _sub(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    _sub(feed, "link", rel="alternate", href=f"{base_url}/experiments", type="text/html")
    author = _sub(feed, "author")
    _sub(author, "name", "MeUskaltajat")
    _sub(feed, "generator", "Uskalla")
    for e in experiments:
        entry = _sub(feed, "entry", **{XML_LANG: e.language})
        _sub(entry, "id", f"urn:uuid:{e.id}")
        _sub(entry, "title", e.title, type="text")
        _sub(entry, "link", rel="alternate", href=experiment_url(base_url, e), type="text/html")
        if e.published_at is not None:
            _sub(entry, "published", e.published_at.isoformat())
        _sub(entry, "updated", e.updated_at.isoformat())
        _sub(entry, "summary", e.summary, type="text")
        for theme in e.themes:
            _sub(entry, "category", term=printable(theme))
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document
