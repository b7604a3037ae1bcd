"""The services' problem messages in the page's language: each known English message is read
as a kind of problem (with its numbers), and shown from the catalogs by field and kind."""

from __future__ import annotations

import re
from collections.abc import Callable

#: (pattern of the services' English message, kind); the named groups fill the text.
RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), kind)
    for pattern, kind in (
        # marshmallow's own messages
        (r"Missing data for required field\.|Field may not be null\.|required", "required"),
        (r"Length must be between (?P<min>\d+) and (?P<max>\d+)\.", "length_between"),
        (r"Longer than maximum length (?P<max>\d+)\.", "too_long"),
        (r"Shorter than minimum length (?P<min>\d+)\.", "too_short"),
        (r"Length must be (?P<equal>\d+)\.", "length_equal"),
        (
            r"Must be greater than or equal to (?P<min>-?[\d.]+) "
            r"and less than or equal to (?P<max>-?[\d.]+)\.",
            "range",
        ),
        (r"Must be greater than or equal to (?P<min>-?[\d.]+)\.", "at_least"),
        (r"Must be less than or equal to (?P<max>-?[\d.]+)\.", "at_most"),
        (r"Must be one of: .*|One or more of the choices you made was not in: .*", "one_of"),
        (r"Not a valid integer\.|Not a valid number\.", "integer"),
        (
            r"Not a valid (?:aware |naive )?(?:date|datetime)\.|\".*\" cannot be formatted as .*",
            "date",
        ),
        (r"Not a valid (?:e-mail|email) address\.", "email"),
        (r"Not a web address \(http or https\)\.|Not a valid URL\.", "url"),
        (r"Unknown field\.", "unknown"),
        (
            r"Not a valid (?:string|boolean|list|UUID|utf-8 string)\.|Invalid value\."
            r"|Invalid (?:input )?type\.|String does not match expected pattern\.",
            "invalid",
        ),
        # uskalla_kit's fields
        (r"(?:.+ )?[Cc]annot be blank\.", "blank"),
        (r"(?:.+ is )?[Oo]ne line, not blank\.", "one_line"),
        (r"Must not contain .*|Must be valid Unicode text.*", "control"),
        # the services' own rules
        (r"Unknown municipality code.*|A municipality code is 3 digits\.", "municipality"),
        (r"Not a theme slug\.|A theme is a slug.*", "theme"),
        (r"Not a region code\.", "region"),
        (r"Consent to the privacy notice is required to join\.", "consent"),
        (r"The time must be in the future\.", "future"),
        (r"The end date is before the start date\.", "end_before_start"),
        (r"Must be between the years (?P<min>\d+) and (?P<max>\d+)\.", "years"),
        (r"Give at least one of the fields\.", "at_least_one"),
        (r"Each value may appear only once\.", "unique"),
        (r"A new experiment starts as idea, planning or running\.", "new_stage"),
        (r"Registration has closed\.", "registration_closed"),
        (r"Must be an https address\.", "https"),
        # conflicts and refusals (a problem's detail)
        (r"You are already registered for this gathering\.", "already_registered"),
        (r"You are not registered for this gathering\.", "not_registered"),
        (r"You have already reported this comment\.", "already_reported"),
        (r"You cannot report your own comment\.", "own_comment"),
        (r"Only a published experiment can be followed\.", "follow_draft"),
        (r"Stage change not allowed.*", "stage_change"),
        (r"Evaluation not allowed yet.*", "evaluation_early"),
        (r"The gathering is cancelled.*", "gathering_cancelled"),
        (r"Only .* may do this\.", "forbidden"),
        (r"An experiment must keep at least one owner\.", "keep_owner"),
        (r"This person has not confirmed joining yet\.", "not_confirmed"),
        (r"Ask another coordinator to change your own role\.", "own_role"),
        (r"No such .*", "not_found"),
        (r"HTTP 5\d\d", "unavailable"),
    )
)


def kind_of(message: str) -> tuple[str, dict[str, str]] | None:
    """The kind of problem an English message tells, with its values; None if unknown."""
    for pattern, kind in RULES:
        found = pattern.fullmatch(message.strip())
        if found:
            return kind, {k: v for k, v in found.groupdict().items() if v is not None}
    return None


def localise(
    errors: dict[str, list[str]], text: Callable[..., str], known: Callable[[str], bool]
) -> dict[str, list[str]]:
    """Per-field messages in the page's language: `problem.<field>.<kind>` if the catalog has
    it, else `problem.<kind>`; a message of no known kind stays as sent, said to be refused."""
    shown: dict[str, list[str]] = {}
    for field, messages in errors.items():
        out = []
        for message in messages:
            found = kind_of(message)
            if found is None:
                out.append(text("problem.unknown_message", message=message))
                continue
            kind, values = found
            key = f"problem.{field}.{kind}"
            out.append(text(key if known(key) else f"problem.{kind}", **values))
        shown[field] = out
    return shown
