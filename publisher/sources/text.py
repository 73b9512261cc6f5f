"""Small text helpers shared by the file formats: paragraphs, links, dates in the site's zone."""

from __future__ import annotations

import html
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from ..slugs import slugify


def paragraphs_to_html(paragraphs: list[str]) -> str:
    """Plain-text paragraphs as escaped ``<p>`` elements."""
    return "\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)


def localize(value: datetime | date, tz: ZoneInfo) -> datetime:
    """A datetime with a zone: naive values are taken as the site's local time."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0, 0))
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def article_link(site_url: str, section: str, slug: str) -> str:
    """The canonical URL of an article that does not name its own."""
    parts = [site_url.rstrip("/")]
    if section:
        parts.append(slugify(section))
    parts.append(slug)
    return "/".join(parts) + "/"
