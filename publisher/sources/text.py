"""Small text helpers shared by the sources: paragraphs, HTML fields as text, dates in the
site's zone."""

from __future__ import annotations

import html
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import nh3


def paragraphs_to_html(paragraphs: list[str]) -> str:
    """Plain-text paragraphs as escaped ``<p>`` elements.

    Entities a scraper left in the text (``&amp;``, ``&nbsp;``) are decoded once first, as
    in every other text field, so they read as the characters they stand for.
    """
    return "\n".join(f"<p>{html.escape(html.unescape(p), quote=False)}</p>" for p in paragraphs)


def html_to_text(fragment: str) -> str:
    """A field that arrives as HTML (an upstream feed's ``type="html"`` title or summary) as
    text: its tags (and the content of script and style) removed, its entities left as they
    are, for collect to decode once, as it does for every text field."""
    return str(nh3.clean(fragment, tags=set(), clean_content_tags={"script", "style"}))


def localize(value: datetime | date, tz: ZoneInfo) -> datetime:
    """A datetime with a zone: naive values are taken as the site's local time; an offset the
    source wrote (``+05:00``) is kept, and feeds show it as written."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0, 0))
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)
