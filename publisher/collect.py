"""Run every source, clean what it yields, and store it.

Normalisation happens here, once, so feeds and digests can trust what the store hands them:
titles and names become plain text, HTML is sanitised, links and lead images must be http(s)
URLs (``urls.public_url``; sources check them first and name the line, this is the gate for
every source), and an article that repeats one already stored under another key (same link) is
reported instead of syndicated twice. Polled sources (feeds, sitemaps) fetch ahead, several at
once (``sources.prepared``), and each one's state is committed only after its articles are
stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC
from urllib.parse import quote

from .errors import ArticleError
from .models import Article, Unchanged
from .sanitize import absolute_urls, clean_html, plain_text, strip_illegal_xml
from .sources import PolledSource, Source, prepared
from .store.protocols import ArticleWriter
from .urls import UnsafeURL, public_url

log = logging.getLogger(__name__)


@dataclass
class CollectReport:
    """What one collection run did, for the CLI and the logs."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    errors: list[ArticleError] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.added + self.updated + self.unchanged + self.duplicates


def _checked(article: Article, name: str, value: str) -> str:
    try:
        return public_url(strip_illegal_xml(value))
    except UnsafeURL as exc:
        raise ArticleError(article.key, None, f"{name} {exc}") from None


def normalise(article: Article) -> Article:
    """Plain-text fields without markup or control characters; sanitised HTML content.

    Raises ArticleError when the link or lead image is not a publishable http(s) URL.
    """
    link = _checked(article, "the link", article.link)
    image = _checked(article, "the image URL", article.image_url) if article.image_url else ""
    cleaned = replace(
        article,
        title=plain_text(article.title),
        author=plain_text(article.author),
        section=plain_text(article.section),
        summary=plain_text(article.summary),
        highlights=[plain_text(h) for h in article.highlights if plain_text(h)],
        tags=[plain_text(t) for t in article.tags if plain_text(t)],
        image_alt=plain_text(article.image_alt),
        image_credit=plain_text(article.image_credit),
        link=link,
        image_url=image,
        content_html=absolute_urls(clean_html(article.content_html), link),
    )
    cleaned.content_hash = cleaned.compute_hash()
    return cleaned


def tag_uri(domain: str, article: Article) -> str:
    """An RFC 4151 ``tag:`` id from the site's domain, the first publication date and the key."""
    day = article.published.astimezone(UTC).date().isoformat()
    return f"tag:{domain},{day}:{quote(article.key, safe='/:._-~')}"


BATCH = 200  # articles per transaction: fast, and a crash loses at most one batch's work


def collect(sources: list[Source], store: ArticleWriter, domain: str) -> CollectReport:
    """Collect from every source; one bad item is reported and skipped, never fatal."""
    report = CollectReport()
    known = store.source_hashes()
    links_seen: dict[str, str] = {}
    batch: list[tuple[Article, str]] = []

    def flush() -> None:
        for (article, _), result in zip(batch, store.upsert_articles(batch), strict=True):
            if result == "duplicate":
                log.warning(
                    "%s repeats an article already stored (same link %s); skipped",
                    article.key,
                    article.link,
                )
                report.duplicates += 1
                continue
            setattr(report, result, getattr(report, result) + 1)
            if result != "unchanged":
                log.debug("%s %s: %s", result, article.key, article.title)
        batch.clear()

    for source in prepared(sources):
        for item in source.items(known):
            if isinstance(item, Unchanged):
                report.unchanged += 1
                continue
            if isinstance(item, ArticleError):
                log.warning("skipped %s", item)
                report.errors.append(item)
                continue
            try:
                article = normalise(item)
            except ArticleError as exc:
                log.warning("skipped %s", exc)
                report.errors.append(exc)
                continue
            if not article.title:
                report.errors.append(ArticleError(article.key, None, "the headline is empty"))
                continue
            owner = links_seen.setdefault(article.link, article.key)
            if owner != article.key:
                log.warning(
                    "%s repeats %s (same link %s); skipped", article.key, owner, article.link
                )
                report.duplicates += 1
                continue
            batch.append((article, tag_uri(domain, article)))
            if len(batch) >= BATCH:
                flush()
        if isinstance(source, PolledSource):
            flush()  # its articles first: then its state (an ETag) can never run ahead of them
            source.commit()
    flush()
    return report
