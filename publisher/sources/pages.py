"""Turn one fetched article page into an ``Article`` with trafilatura.

trafilatura finds the main text among the page's furniture and reads the metadata news sites
publish (Open Graph, JSON-LD, ``<meta>``): headline, author, date, section, lead image. A page
with no headline, too little text, or that calls itself something other than an article
(``og:type`` "website", a section front) yields no article; the caller records it so it is
never fetched again. Dates come from the page when it gives a time, else from the news
sitemap, else from the page's bare day, else from the sitemap's ``lastmod``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from lxml import etree

from ..models import Article
from .fetch import url_problem
from .text import localize

log = logging.getLogger(__name__)

MIN_TEXT = 100  # characters of body text below which a page is not taken as an article
SUMMARY_CHARS = 300
NOT_ARTICLES = {"website", "profile", "video.other", "book", "music.song"}
DATE_PARAMS = {"extensive_search": True, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}  # fmt: skip


@dataclass(frozen=True)
class PageHints:
    """What the sitemap said about a page, used where the page itself is silent."""

    title: str = ""
    published: datetime | None = None
    lastmod: datetime | None = None
    keywords: tuple[str, ...] = ()


def _page_date(value: str | None, tz: ZoneInfo) -> tuple[datetime | None, bool]:
    """(the date, whether it is precise: has a time of day or a zone)."""
    if not value:
        return None, False
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None, False
    precise = when.tzinfo is not None or (when.hour, when.minute, when.second) != (0, 0, 0)
    return localize(when, tz), precise


def _content(document: Any, title: str) -> str:
    """The extracted body as HTML, without the headline trafilatura keeps at its top."""
    from trafilatura.htmlprocessing import convert_to_html

    body = convert_to_html(document.body).find("body")
    if body is None:
        return ""
    parts = list(body)
    if parts and parts[0].tag in ("h1", "h2") and " ".join(parts[0].itertext()).strip() == title:
        parts = parts[1:]
    return "\n".join(etree.tostring(p, encoding="unicode", method="html").strip() for p in parts)


def _summary(description: str, text: str) -> str:
    if description.strip():
        return description.strip()
    first = next((line.strip() for line in text.splitlines() if len(line.strip()) > 40), "")
    if len(first) <= SUMMARY_CHARS:
        return first
    return first[:SUMMARY_CHARS].rsplit(" ", 1)[0] + " …"


def extract_article(
    html: bytes,
    url: str,
    *,
    key: str,
    source: str,
    hints: PageHints,
    tz: ZoneInfo,
    now: datetime,
) -> Article | str:
    """The article on a page fetched from ``url``, or why there is none."""
    import trafilatura  # here, not at the top: it takes half a second to import, and only
    # sitemap sources need it, so no other command pays for it

    document = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_images=True,
        include_links=True,
        include_comments=False,
        date_extraction_params=DATE_PARAMS,
    )
    if document is None or isinstance(document, dict):
        return "no main text found on the page"
    pagetype = str(getattr(document, "pagetype", "") or "").lower()
    if pagetype in NOT_ARTICLES:
        return f"the page calls itself {pagetype!r} (og:type), not an article"
    title = str(document.title or hints.title or "").strip()
    text = str(document.text or "")
    if not title:
        return "no headline found on the page"
    if len(text) - len(title) < MIN_TEXT:
        return f"too little text for an article ({len(text)} characters)"
    page_date, precise = _page_date(document.date, tz)
    published = (
        (page_date if precise else None) or hints.published or page_date or hints.lastmod or now
    )
    image = urljoin(url, str(document.image)) if document.image else ""
    categories = [str(c) for c in document.categories or [] if str(c).strip()]
    tags = [str(t) for t in document.tags or [] if str(t).strip()] or list(hints.keywords)
    return Article(
        key=key,
        source=source,
        title=title,
        link=url,
        published=published,
        author=str(document.author or ""),
        section=categories[0] if categories else "",
        summary=_summary(str(document.description or ""), text),
        content_html=_content(document, title),
        tags=tags,
        image_url=image if image and not url_problem(image) else "",
    )
