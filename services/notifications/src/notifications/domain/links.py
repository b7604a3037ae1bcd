"""The links e-mails carry, as agreed across services (language prefix "" for fi)."""

from __future__ import annotations

from urllib.parse import quote

LANGUAGES = ("fi", "sv", "en")


def prefix(language: str) -> str:
    return "" if language == "fi" else f"/{language}"


def site(base: str, language: str) -> str:
    return f"{base}{prefix(language)}"


def confirm(base: str, language: str, token: str) -> str:
    return f"{site(base, language)}/confirm?token={quote(token)}"


def sign_in(base: str, language: str, token: str) -> str:
    return f"{site(base, language)}/sign-in/callback?token={quote(token)}"


def gathering(base: str, language: str, gathering_id: str) -> str:
    return f"{site(base, language)}/gatherings/{gathering_id}"


def experiment(base: str, language: str, experiment_id: str) -> str:
    return f"{site(base, language)}/experiments/{experiment_id}"


def my_page(base: str, language: str) -> str:
    return f"{site(base, language)}/me"


def unsubscribe_page(base: str, language: str, token: str) -> str:
    return f"{site(base, language)}/unsubscribe?token={quote(token)}"


def one_click_unsubscribe(base: str, token: str) -> str:
    """The RFC 8058 URL for the List-Unsubscribe header (POSTed to by mail clients)."""
    return f"{base}/api/v1/unsubscribe?token={quote(token)}"
