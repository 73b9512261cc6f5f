"""Rules about subscribers that touch no database: addresses, preferences, sections.

Each rule exists once so that every way in (the CLI, an import, the web form) and the way out
(the sender) agree: an address accepted at sign-up is never refused at send time, and a
subscriber's sections select the same articles in the planner, a preview and the web page.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import date

from .config import check_zone
from .errors import PublisherError

FREQUENCIES = ("daily", "weekly")
# Preferences a subscriber may change; changing any of them recomputes their next due time.
PREFERENCES = ("timezone", "send_hour", "frequency", "weekday", "sections", "paused_until")
MAX_ADDRESS = 320


class AddressError(PublisherError):
    """An address that cannot be a deliverable mailbox."""


@functools.lru_cache(maxsize=8192)
def validate_email(value: str) -> str:
    """The address in the form it is stored and sent to; AddressError if it cannot be.

    email-validator decides (RFC 5321/5322 syntax, a dotted public domain, no quoted or
    bracketed forms). The domain is lower-cased and an internationalised domain becomes its
    ASCII (punycode) form; a non-ASCII local part (``josé@``) is refused, because sending to
    it needs SMTPUTF8, which neither this sender nor most receiving servers offer.
    """
    address = value.strip(" \t")
    if len(address) > MAX_ADDRESS or any(c in address for c in "\r\n\x00"):
        raise AddressError(f"not a valid email address: {value!r}", "use the form name@example.com")
    from email_validator import EmailNotValidError  # 20 ms to import: only when checking
    from email_validator import validate_email as _validate

    try:
        checked = _validate(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise AddressError(
            f"not a valid email address: {value!r} ({exc})", "use the form name@example.com"
        ) from None
    return str(checked.ascii_email or checked.normalized)


SectionFilter = frozenset[str] | None


def section_filter(sections: Iterable[str] | None) -> SectionFilter:
    """A subscriber's sections as compared: without case or surrounding space; None = all."""
    if not sections:
        return None
    found = frozenset(s.strip().casefold() for s in sections if s.strip())
    return found or None


def wants(selected: SectionFilter, section: str) -> bool:
    """Whether an article of ``section`` belongs in a digest cut for ``selected`` sections."""
    return selected is None or section.strip().casefold() in selected


def validate_preferences(prefs: Mapping[str, object]) -> None:
    """Refuse preferences that cannot be scheduled; PublisherError names the bad value."""
    unknown = set(prefs) - set(PREFERENCES)
    if unknown:
        raise PublisherError(f"not a preference: {', '.join(sorted(unknown))}")
    zone = prefs.get("timezone")
    if zone is not None:
        try:
            check_zone(str(zone))
        except ValueError as exc:
            raise PublisherError(str(exc)) from None
    hour = prefs.get("send_hour")
    if hour is not None and not (isinstance(hour, int) and 0 <= hour <= 23):
        raise PublisherError(f"bad send hour {hour!r}", "use a local hour from 0 to 23")
    if "frequency" in prefs and prefs["frequency"] not in FREQUENCIES:
        raise PublisherError(f"bad frequency {prefs['frequency']!r}", "use daily or weekly")
    day = prefs.get("weekday")
    if day is not None and not (isinstance(day, int) and 0 <= day <= 6):
        raise PublisherError(f"bad weekday {day!r}", "use 0 (Monday) to 6 (Sunday)")
    sections = prefs.get("sections")
    if sections is not None and not (
        isinstance(sections, list) and all(isinstance(s, str) for s in sections)
    ):
        raise PublisherError(f"bad sections {sections!r}", "give a list of section names")
    paused = prefs.get("paused_until")
    if paused is not None and not isinstance(paused, date):
        raise PublisherError(f"bad pause date {paused!r}", "give a date such as 2026-12-24")
