"""Small text helpers shared by the file formats: slugs, paragraphs, dates in the site's zone."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import date, datetime, time
from zoneinfo import ZoneInfo


def slugify(text: str, max_length: int = 80) -> str:
    """A lowercase ASCII slug: 'Hello, World!' -> 'hello-world'."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "untitled"


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
