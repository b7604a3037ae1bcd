"""E-mail wording: one template per kind, worded in fi/sv/en by gettext catalogs that are in
step with the templates, and link lifetimes said from the facts, not written into the text."""

from __future__ import annotations

import re
import uuid
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from notifications.adapters.composer import Composer, Outgoing
from notifications.adapters.templates import LANGUAGES, render, translations
from notifications.config import Settings

from .conftest import Service

SERVICE = Path(__file__).parents[1]
CATALOGS = SERVICE / "src" / "notifications" / "translations"
GATHERING = {
    "gathering_id": "6f1c0f5e-0000-4000-8000-000000000001",
    "title": "Tarinapaja",
    "kind": "tarinapaja",
    "starts_at": "2027-03-10T10:00:00+00:00",
    "ends_at": "2027-03-10T13:00:00+00:00",
    "event_language": "sv",
    "gathering_url": "https://uskalla.test/g",
    "unsubscribe_url": "https://uskalla.test/u",
    "location": "Kuntatalo",
    "online_url": "https://meet.test/x",
    "description": "Kehitä oma kokeiluideasi.",
}
#: Each kind with what its template is given, and its subject in fi, sv and en.
KINDS: dict[str, tuple[dict[str, Any], tuple[str, str, str]]] = {
    "already_member": (
        {},
        (
            "Olet jo MeUskaltajat-verkoston jäsen",
            "Du är redan medlem i nätverket MeUskaltajat",
            "You are already a member of the MeUskaltajat network",
        ),
    ),
    "comment": (
        {"experiment_title": "Kylätalo", "experiment_url": "https://uskalla.test/e"},
        (
            "Uusi kommentti kokeiluunne: Kylätalo",
            "Ny kommentar till ert försök: Kylätalo",
            "New comment on your experiment: Kylätalo",
        ),
    ),
    "confirmation": (
        {"confirm_url": "https://uskalla.test/c", "valid_hours": 168},
        (
            "Vahvista liittymisesi MeUskaltajat-verkostoon",
            "Bekräfta att du går med i nätverket MeUskaltajat",
            "Confirm that you are joining the MeUskaltajat network",
        ),
    ),
    "gathering_cancelled": (
        {**GATHERING, "sequence": 3},
        ("Peruttu: Tarinapaja", "Inställt: Tarinapaja", "Cancelled: Tarinapaja"),
    ),
    "gathering_changed": (
        {**GATHERING, "sequence": 2},
        ("Muutos: Tarinapaja", "Ändrat: Tarinapaja", "Changed: Tarinapaja"),
    ),
    "gathering_reminder": (
        {**GATHERING, "sequence": 0},
        ("Muistutus: Tarinapaja", "Påminnelse: Tarinapaja", "Reminder: Tarinapaja"),
    ),
    "invitation": (
        GATHERING,
        (
            "Kutsu: Tarinapaja (Tarinapaja) 10.3.2027 klo 12.00 (Suomen aikaa)",
            "Inbjudan: Tarinapaja (berättelseverkstad) 10.3.2027 kl. 12.00 (finsk tid)",
            "Invitation: Tarinapaja (story workshop) 10.3.2027 at 12:00 (Finnish time)",
        ),
    ),
    "newsletter": (
        {
            "subject": "Kevät",
            "body_text": "Teksti",
            "body_html": "<p>Teksti</p>",
            "unsubscribe_url": "https://uskalla.test/u",
            "test": True,
        },
        ("[TEST] Kevät", "[TEST] Kevät", "[TEST] Kevät"),
    ),
    "registration": (
        {**GATHERING, "status": "promoted", "has_calendar": True},
        (
            "Pääsit mukaan jonosta: Tarinapaja",
            "Du fick en plats från kön: Tarinapaja",
            "You got a place from the waiting list: Tarinapaja",
        ),
    ),
    "sign_in": (
        {"sign_in_url": "https://uskalla.test/s", "valid_minutes": 15},
        (
            "Kirjautumislinkkisi MeUskaltajat-palveluun",
            "Din inloggningslänk till MeUskaltajat",
            "Your sign-in link to MeUskaltajat",
        ),
    ),
    "welcome": (
        {},
        (
            "Tervetuloa MeUskaltajat-verkostoon!",
            "Välkommen till nätverket MeUskaltajat!",
            "Welcome to the MeUskaltajat network!",
        ),
    ),
}
WITH_HTML = {"invitation", "newsletter"}
COMMON = {"site_url": "https://uskalla.test", "my_url": "https://uskalla.test/me", "name": "<Ida>"}


def catalog(name: str) -> Catalog:
    path = CATALOGS / ("messages.pot" if name == "pot" else f"{name}/LC_MESSAGES/messages.po")
    with path.open("rb") as source:
        return read_po(source, locale=None if name == "pot" else name)


def keys(of: Catalog) -> set[tuple[str | None, Any]]:
    return {(m.context, m.id) for m in of if m.id}


def english_phrases() -> set[str]:
    """The English text between the placeholders of every msgid, long enough to be telling."""
    phrases = set()
    for message in catalog("pot"):
        for msgid in message.id if isinstance(message.id, tuple) else [message.id]:
            phrases |= {p for p in re.split(r"%\(\w+\)[sd]|\n", msgid) if len(p.strip()) > 8}
    return phrases


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_renders_in_every_language(kind: str) -> None:
    context, subjects = KINDS[kind]
    english = english_phrases()
    for language, subject in zip(LANGUAGES, subjects, strict=True):
        mail = render(kind, language, COMMON | context)
        assert mail.subject == subject
        assert mail.text.strip() and "%(" not in mail.text, mail.text
        assert (mail.html is not None) == (kind in WITH_HTML)
        if mail.html is not None:
            assert f'<html lang="{language}">' in mail.html
            assert "<Ida>" not in mail.html
        if language != "en":
            left = [p for p in english if p in mail.text or p in (mail.html or "")]
            assert not left, (language, left)


def test_html_escapes_the_context_and_text_does_not() -> None:
    mail = render("invitation", "sv", COMMON | GATHERING | {"title": "A & <b>"})
    assert "<p>Hej &lt;Ida&gt;,</p>" in mail.html  # type: ignore[operator]
    assert "A &amp; &lt;b&gt;" in mail.html  # type: ignore[operator]
    assert "Hej <Ida>," in mail.text and "A & <b> (berättelseverkstad)" in mail.text


def test_the_catalog_template_holds_every_string_of_the_templates() -> None:
    with (SERVICE / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    extracted = {
        (context, message)
        for _, _, message, _, context in extract_from_dir(SERVICE, method_map, options_map)
    }
    assert extracted, "nothing extracted: babel.cfg does not match the templates"
    assert extracted == keys(catalog("pot")), "run `pybabel extract` (README, E-mail wording)"


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_catalog_translates_every_string_and_compiles(language: str) -> None:
    pot, po = catalog("pot"), catalog(language)
    assert keys(po) == keys(pot), "run `pybabel update` (README, E-mail wording)"
    assert not list(po.check())  # placeholders and plural forms agree with the msgid
    compiled = translations(language)
    for message in po:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if language == "en" and not any(strings):
            continue  # English is the msgid itself
        assert all(strings), f"untranslated in {language}: {message.id!r}"
        if isinstance(message.id, tuple):
            one, many = message.id
            assert compiled.ngettext(one, many, 1) == strings[0]
            assert compiled.ngettext(one, many, 7) == strings[1]
        elif message.context:
            assert compiled.pgettext(message.context, message.id) == strings[0]
        else:
            assert compiled.gettext(message.id) == strings[0]


CONFIRMATION = {
    "fi": "Linkki on voimassa {}. Jos",
    "sv": "Länken gäller i {}. Om",
    "en": "The link is valid for {}. If",
}
#: How each mail says its link's lifetime, in fi, sv and en.
SAID = {
    "confirmation": CONFIRMATION,
    "sign_in": {
        "fi": "Linkki on voimassa {} ja toimii kerran.",
        "sv": "Länken gäller i {} och fungerar en gång.",
        "en": "The link is valid for {} and works once.",
    },
}


@pytest.mark.parametrize(
    ("kind", "fact", "said"),
    [
        ("confirmation", {"valid_hours": 168}, ("7 päivää", "7 dagar", "7 days")),
        ("confirmation", {"valid_hours": 24}, ("1 päivä", "1 dag", "1 day")),
        ("confirmation", {"valid_hours": 36}, ("36 tuntia", "36 timmar", "36 hours")),
        ("confirmation", {"valid_hours": 1}, ("1 tunti", "1 timme", "1 hour")),
        ("sign_in", {"valid_minutes": 15}, ("15 minuuttia", "15 minuter", "15 minutes")),
        ("sign_in", {"valid_minutes": 1}, ("1 minuutti", "1 minut", "1 minute")),
        ("sign_in", {"valid_minutes": 90}, ("90 minuuttia", "90 minuter", "90 minutes")),
        ("sign_in", {"valid_minutes": 120}, ("2 tuntia", "2 timmar", "2 hours")),
        ("sign_in", {"valid_minutes": 60}, ("1 tunti", "1 timme", "1 hour")),
    ],
)
def test_a_link_mail_says_the_lifetime_it_is_given(
    kind: str, fact: dict[str, int], said: tuple[str, str, str]
) -> None:
    """Whole days, else whole hours, else minutes: exact, in each language's plural form."""
    context = COMMON | KINDS[kind][0] | fact
    for language, lifetime in zip(LANGUAGES, said, strict=True):
        text = render(kind, language, context).text
        assert SAID[kind][language].format(lifetime) in text, text


def text_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def test_the_confirmation_mail_says_seven_days_by_default(service: Service) -> None:
    """Through the consumer and SMTP: the lifetime members' default gives the link."""
    for language, lifetime in zip(LANGUAGES, ("7 päivää", "7 dagar", "7 days"), strict=True):
        to = f"ttl-{language}@example.fi"
        service.handle(
            "members.member.registered.v1",
            {
                "member_id": str(uuid.uuid4()),
                "email": to,
                "name": "Ida",
                "language": language,
                "token": service.seal("t"),
            },
        )
        service.tasks.drain()
        [mail] = service.mails(to)
        assert CONFIRMATION[language].format(lifetime) in mail["text"], mail["text"]


def test_the_setting_is_read_and_a_lifetime_in_the_context_wins(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delivery without `valid_hours` (queued before events carried it) says the setting."""
    monkeypatch.setenv("CONFIRM_TOKEN_TTL_DAYS", "3")
    composer = Composer(Settings.from_env())

    def confirmation(language: str, **context: Any) -> str:
        item = Outgoing(
            id=uuid.uuid4(),
            kind="confirmation",
            email="a@example.fi",
            language=language,
            cause="c",
            message_id="<m@uskalla.test>",
            context={"token": service.seal("t"), **context},
        )
        return text_of(composer.compose(item))

    for language, days, hours in zip(
        LANGUAGES,
        ("3 päivää", "3 dagar", "3 days"),
        ("36 tuntia", "36 timmar", "36 hours"),
        strict=True,
    ):
        assert CONFIRMATION[language].format(days) in confirmation(language)
        assert CONFIRMATION[language].format(hours) in confirmation(language, valid_hours=36)


def test_a_newsletter_from_its_stencil_is_the_composed_message(service: Service) -> None:
    """A newsletter's messages are spliced from one stencil per language; each reads exactly
    as the message composed in full (headers, text and HTML decoded), readers' unsubscribe
    links are their own, and a stencil that would differ is not used."""
    from email import message_from_bytes

    from notifications.adapters.composer import STAND_INS, _reading, newsletter_context
    from notifications.adapters.mailer import wire_bytes
    from notifications.adapters.models import Newsletter

    composer = Composer(Settings.from_env())
    body = "# Hei & tervetuloa\n\nÄäkköset, <b>ja</b> [linkki](https://example.fi/?a=1&b=2)."
    source = newsletter_context(Newsletter(subject="Kevään kirje — ÄÖ", body=body))
    cause = str(uuid.uuid4())

    def reader(language: str) -> Outgoing:
        member = uuid.uuid4()
        return Outgoing(
            id=uuid.uuid4(),
            kind="newsletter",
            email=f"{member.hex[:8]}@example.fi",
            language=language,
            cause=cause,
            message_id=f"<{member}@uskalla.test>",
            member_id=member,
            name="Åsa",
        )

    for language in LANGUAGES:
        first, second = reader(language), reader(language)
        for item in (first, second):
            spliced = composer.wire(item, source)
            assert composer._stencils[("newsletter", cause, language)] is not None
            assert _reading(spliced) == _reading(wire_bytes(composer.compose(item, source)))
            message = message_from_bytes(spliced)
            assert message["To"] == item.email
            assert all(stand_in not in spliced.decode() for stand_in in STAND_INS.values())
        links = {
            message_from_bytes(composer.wire(item, source))["List-Unsubscribe"]
            for item in (first, second)
        }
        assert len(links) == 2  # each reader's own token

    # A stencil whose splice would not read as the composed message is dropped at once.
    broken = Composer(Settings.from_env())
    broken._splice = lambda stencil, item: b"Subject: other\r\n\r\nother\r\n"  # type: ignore[method-assign]
    item = reader("fi")
    data = broken.wire(item, source)
    assert broken._stencils[("newsletter", cause, "fi")] is None
    assert _reading(data) == _reading(wire_bytes(broken.compose(item, source)))
