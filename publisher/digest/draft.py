"""A digest rendered once, with placeholders for what differs between its readers.

``Renderer`` (render.py) produces a ``DigestDraft`` per edition variant: the one premailer run.
What differs between readers is filled in by substitution, in two steps, so each costs what it
must and no more:

* ``DigestDraft.localise`` per time zone and frequency of the variant's readers: the date in
  the masthead and subject ("Week of 16 September" for a weekly reader) and every article's
  time, giving a ``RenderedDigest``;
* ``RenderedDigest.personalise`` per recipient: greeting, links, the "why you get this" line.

Placeholders carry a nonce drawn per render, so article text shaped like one is left alone.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from ..errors import RenderError
from .content import edition_labels, fit_subject

PERSONAL_FIELDS = ("greeting", "name", "email", "unsubscribe_url", "preferences_url", "reason")
_FIELDS = "|".join(PERSONAL_FIELDS)
# What a placeholder is counted as when a draft is held to the size budget: personal values at
# 400 bytes (real ones are 20 to 250; a name of 200 characters full of "&" could reach 1,000,
# a few hundred bytes past the budget and still far inside Gmail's 102 KB), the subject in
# <title> at 300, dates and times at 40.
_ALLOWANCE = {"subject": 300, "date": 40, **dict.fromkeys(PERSONAL_FIELDS, 400)}
_TIME_ALLOWANCE = 40
# Where the zone's dates and the fitted headline go in a subject format until they are known.
HEADLINE, DATE, EDITION = "\x00headline\x00", "\x00date\x00", "\x00edition\x00"


class TimeSlots:
    """The ``tz`` of a draft: ``local_time`` records each time and leaves a placeholder, so the
    draft can be shown in any reader's zone without rendering it again."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.times: list[datetime] = []
        self._index: dict[datetime, int] = {}

    def slot(self, value: datetime) -> str:
        if value not in self._index:
            self._index[value] = len(self.times)
            self.times.append(value)
        return f"@@{self.marker}:t{self._index[value]}@@"


@dataclass(frozen=True)
class RenderedDigest:
    """One variant in one zone, inlined, with placeholders where personal values go."""

    subject: str
    html: str
    text: str
    preheader: str
    marker: str = "P"  # the placeholders' per-render nonce (see ``placeholder``)

    @property
    def placeholder(self) -> re.Pattern[str]:
        """Matches this render's placeholders; the field name is group 1.

        The nonce is drawn per render, so an article that happens to contain text shaped like
        a placeholder is never mistaken for one (and never gets a reader's links put in).
        """
        return re.compile(f"@@{self.marker}:({_FIELDS})@@")

    def personalise(self, values: dict[str, str]) -> tuple[str, str]:
        """(html, text) for one recipient: values escaped for HTML, verbatim in text."""
        missing = set(PERSONAL_FIELDS) - set(values)
        if missing:
            raise RenderError(f"personal values missing: {', '.join(sorted(missing))}")
        return fill(self.placeholder, values, self.html, self.text)

    def stable_hash(self) -> str:
        """A hash of the rendered HTML that does not depend on the nonce (for MIME boundaries)."""
        return hashlib.sha1(self.html.replace(self.marker, "").encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DigestDraft:
    """A variant rendered and inlined once, before it is put in any reader's zone."""

    html: str
    text: str
    preheader: str
    marker: str
    subject_format: str  # the subject with {site}, {count} filled in and HEADLINE for the headline
    headline: str
    cut_at: datetime
    times: tuple[datetime, ...]
    full_count: int  # articles shown in full; the rest are headline links

    @property
    def zone_placeholder(self) -> re.Pattern[str]:
        return re.compile(f"@@{self.marker}:(subject|date|t\\d+)@@")

    def localise(self, tz: ZoneInfo, weekly: bool = False) -> RenderedDigest:
        """The draft as a reader in ``tz`` sees it (dates, times, subject); cheap, no premailer.

        The subject puts the headline first, fitted to 60 characters where it can be."""
        long, short = edition_labels(self.cut_at, tz, weekly)
        subject_format = self.subject_format.replace(DATE, long).replace(EDITION, short)
        subject = fit_subject(subject_format, self.headline, HEADLINE)
        values = {"subject": subject, "date": long}
        for i, when in enumerate(self.times):
            values[f"t{i}"] = local_time(when, tz)
        html_part, text_part = fill(self.zone_placeholder, values, self.html, self.text)
        return RenderedDigest(subject, html_part, text_part, self.preheader, self.marker)

    @cached_property
    def html_size(self) -> int:
        """Bytes of the HTML part once filled in, each placeholder counted at its allowance."""
        size = len(self.html.encode("utf-8"))
        for m in re.finditer(f"@@{self.marker}:(\\w+)@@", self.html):
            size += _ALLOWANCE.get(m.group(1), _TIME_ALLOWANCE) - len(m.group(0))
        return size


def fill(
    pattern: re.Pattern[str], values: dict[str, str], html_part: str, text: str
) -> tuple[str, str]:
    """(html, text) with each placeholder of ``pattern`` replaced by its value, escaped in HTML."""
    return (
        pattern.sub(lambda m: html.escape(values[m.group(1)], quote=True), html_part),
        pattern.sub(lambda m: values[m.group(1)], text),
    )


def local_time(value: datetime, tz: ZoneInfo) -> str:
    """An article's time as readers see it: "September 17, 2024 5:50 PM PKT"."""
    local = value.astimezone(tz)
    hour = local.strftime("%I").lstrip("0")
    return f"{local:%B} {local.day}, {local.year} {hour}:{local:%M %p} {local.tzname()}"
