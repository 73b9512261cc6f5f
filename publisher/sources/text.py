"""Small text helpers shared by the file formats: paragraphs and dates in the site's zone."""

from __future__ import annotations

import html
from datetime import date, datetime, time
from zoneinfo import ZoneInfo


def paragraphs_to_html(paragraphs: list[str]) -> str:
    """Plain-text paragraphs as escaped ``<p>`` elements.

    Entities a scraper left in the text (``&amp;``, ``&nbsp;``) are decoded once first, as
    in every other text field, so they read as the characters they stand for.
    """
    return "\n".join(f"<p>{html.escape(html.unescape(p), quote=False)}</p>" for p in paragraphs)


def localize(value: datetime | date, tz: ZoneInfo) -> datetime:
    """A datetime with a zone: naive values are taken as the site's local time; an offset the
    source wrote (``+05:00``) is kept, and feeds show it as written."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0, 0))
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)
