"""What every page view uses: links in the page's language, rendering, sign-in requirements."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, render_template, request, url_for
from uskalla_kit import Identity, Problem

from gateway import session
from gateway.ui.i18n import Catalogs, current_language
from gateway.ui.messages import localise

HELSINKI = ZoneInfo("Europe/Helsinki")
#: Notices a redirect may ask the next page to show (?notice=...).
NOTICES = frozenset(
    {
        "saved",
        "published",
        "stage_changed",
        "evaluated",
        "commented",
        "reported",
        "registered",
        "waitlisted",
        "cancelled",
        "signed_out",
        "test_sent",
        "sending",
        "hidden",
        "restored",
        "created",
        "lifted",
        "scheduled",
        "unscheduled",
        "unfollowed",
        "comment_edited",
    }
)


def link(endpoint: str, **values: Any) -> str:
    """A URL for a UI endpoint in the current page's language."""
    return url_for(f"ui_{current_language()}.{endpoint}", **values)


def t(key: str, **values: Any) -> str:
    catalogs: Catalogs = current_app.extensions["gateway.catalogs"]
    return catalogs.text(current_language(), key, **values)


def known(key: str) -> bool:
    catalogs: Catalogs = current_app.extensions["gateway.catalogs"]
    return catalogs.has(current_language(), key)


def render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    notice = request.args.get("notice", "")
    context.setdefault("notice", notice if notice in NOTICES else "")
    if isinstance(context.get("errors"), dict):  # the services speak English
        context["errors"] = localise(context["errors"], t, known)
    return render_template(template, **context), status


def signed_in() -> Identity:
    """The signed-in member, or a 401 page inviting them to sign in."""
    identity = session.session_identity()
    if identity is None:
        raise Problem(401, "Unauthorized", "sign_in_required")
    return identity


def coordinator() -> Identity:
    identity = signed_in()
    if not identity.is_coordinator:
        raise Problem(403, "Forbidden", "coordinators_only")
    return identity


def local_time(value: str | None, with_time: bool = True) -> str:
    """An ISO timestamp shown in Finnish local time (d.m.yyyy klo hh.mm)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(HELSINKI)
    day = f"{moment.day}.{moment.month}.{moment.year}"
    return f"{day} {moment:%H.%M}" if with_time and len(value) > 10 else day


def machine_time(value: str | None) -> str:
    """An ISO timestamp as a valid HTML `datetime` value: UTC to the second ("...Z"), a date
    as it is; what cannot be read is left out rather than written invalid."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if len(value) <= 10:
        return moment.date().isoformat()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=HELSINKI)
    return f"{moment.astimezone(ZoneInfo('UTC')):%Y-%m-%dT%H:%M:%SZ}"


def to_utc(local: str) -> str | None:
    """A datetime-local field (Helsinki time) as UTC ISO 8601, or None when empty/invalid."""
    if not local:
        return None
    try:
        moment = datetime.fromisoformat(local)
    except ValueError:
        return local  # the service answers with a per-field message
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=HELSINKI)
    return moment.astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")


def to_local_input(value: str | None) -> str:
    """A UTC timestamp as a datetime-local field's value (Helsinki time)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(HELSINKI)
    return f"{moment:%Y-%m-%dT%H:%M}"


def form_bool(name: str) -> bool:
    return request.form.get(name) in ("on", "true", "1", "yes")


def form_list(name: str) -> list[str]:
    """A multi-value field, or a comma/line separated text field, as a list of strings."""
    values = request.form.getlist(name)
    if len(values) == 1:
        values = values[0].replace("\n", ",").split(",")
    return [v.strip() for v in values if v.strip()]


def municipality_choices(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    lang = current_language()
    return [
        (str(m.get("code")), str((m.get("name_sv") if lang == "sv" else None) or m.get("name_fi")))
        for m in items
    ]


def theme_choices(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    lang = current_language()
    return [(str(th.get("slug")), str(th.get(f"name_{lang}") or th.get("slug"))) for th in items]


def enum_choices(prefix: str, values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(v, t(f"{prefix}.{v}")) for v in values]


def name_of(choices: list[tuple[str, str]], key: Any) -> str:
    return next((text for k, text in choices if k == key), str(key))
