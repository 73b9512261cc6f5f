"""Reading what readers typed into the sign-up and preferences forms.

Everything arrives as text from a stranger's browser: each field is checked against what the
site offers (known sections, real time zones, hours 0-23, dates) and turned into preference
values the store accepts. Problems are collected per field so the page can show each one
beside its field, with the reader's input kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from ..config import Settings, check_zone
from ..errors import PublisherError
from ..subscribers import FREQUENCIES, validate_email

EVERYTHING = "__all__"  # the "everything" checkbox of the sections list
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_NAME = 200


class FormError(PublisherError):
    """One or more fields are wrong; ``problems`` maps each field to what to fix."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


Form = Mapping[str, Sequence[str]]  # field -> every value sent (checkboxes repeat)


def _one(form: Form, name: str) -> str:
    values = form.get(name) or [""]
    return values[0].strip()


def sections_from(form: Form, known: Sequence[str], problems: dict[str, str]) -> list[str] | None:
    """The ticked sections (None: everything); unknown names are refused, not stored."""
    ticked = [v.strip() for v in form.get("sections", []) if v.strip()]
    if not ticked or EVERYTHING in ticked:
        return None
    by_fold = {k.casefold(): k for k in known}
    chosen = [by_fold[t.casefold()] for t in ticked if t.casefold() in by_fold]
    if len(chosen) != len(ticked):
        problems["sections"] = "choose sections from the list"
    return sorted(set(chosen), key=str.casefold) or None


def schedule_from(
    form: Form, settings: Settings, problems: dict[str, str], *, full: bool
) -> dict[str, object]:
    """Frequency, weekday, zone (and, with ``full``, send hour and pause) from a form."""
    prefs: dict[str, object] = {}
    frequency = _one(form, "frequency") or "daily"
    if frequency not in FREQUENCIES:
        problems["frequency"] = "choose daily or weekly"
    prefs["frequency"] = frequency
    weekday = _one(form, "weekday")
    if weekday:
        if weekday.isdigit() and int(weekday) in range(7):
            prefs["weekday"] = int(weekday)
        else:
            problems["weekday"] = "choose a day of the week"
    zone = _one(form, "timezone")
    try:
        prefs["timezone"] = check_zone(zone) if zone else settings.site.timezone
    except ValueError:
        if full:
            problems["timezone"] = "choose a time zone from the list, such as Europe/London"
        else:  # a browser that sent something odd: fall back to the site's zone
            prefs["timezone"] = settings.site.timezone
    if not full:
        return prefs
    hour = _one(form, "send_hour")
    if hour:
        if hour.isdigit() and int(hour) in range(24):
            prefs["send_hour"] = int(hour)
        else:
            problems["send_hour"] = "choose an hour from 0 to 23"
    else:
        prefs["send_hour"] = None
    paused = _one(form, "paused_until")
    prefs["paused_until"] = None
    if paused:
        try:
            prefs["paused_until"] = date.fromisoformat(paused)
        except ValueError:
            problems["paused_until"] = "give a date such as 2026-12-24"
    return prefs


@dataclass(frozen=True)
class SignUpForm:
    """A valid sign-up: the address (normalised), a name, and preferences."""

    email: str
    name: str
    prefs: dict[str, object]


def read_signup(form: Form, settings: Settings, known_sections: Sequence[str]) -> SignUpForm:
    """Check a sign-up form; FormError lists every problem at once."""
    problems: dict[str, str] = {}
    email = ""
    try:
        email = validate_email(_one(form, "email"))
    except PublisherError:
        problems["email"] = "enter an email address such as name@example.com"
    name = " ".join(_one(form, "name").split())
    if len(name) > MAX_NAME:
        problems["name"] = f"use at most {MAX_NAME} characters"
    prefs = schedule_from(form, settings, problems, full=False)
    prefs["sections"] = sections_from(form, known_sections, problems)
    if problems:
        raise FormError(problems)
    return SignUpForm(email, name, prefs)


def read_preferences(
    form: Form, settings: Settings, known_sections: Sequence[str]
) -> dict[str, object]:
    """Check a preferences form; FormError lists every problem at once."""
    problems: dict[str, str] = {}
    prefs = schedule_from(form, settings, problems, full=True)
    prefs["sections"] = sections_from(form, known_sections, problems)
    if problems:
        raise FormError(problems)
    return prefs
