"""Run every source, clean what it yields, and store it.

Normalisation happens here, once, so feeds and digests can trust what the store hands them:
titles, names, summaries, tags, credits and alt text are plain text (entities decoded once,
no-break spaces kept, markup-like text kept as text), HTML is sanitised, dates are whole
seconds, links and lead images must be http(s) URLs (``urls.public_url``; sources check them
first and name the line, this is the gate for every source). The store then settles each
article's permanent link (``slugs.LinkRules``), and only then are the body's relative links
made absolute against it. An article whose explicit link is already another's is reported as
a duplicate instead of syndicated twice; two articles that merely share a headline are not.
Polled sources (feeds, sitemaps) fetch ahead, several at once (``sources.prepared``), and
each one's state is committed only after its articles are stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC
from typing import TYPE_CHECKING
from urllib.parse import quote

from .errors import ArticleError
from .models import Article, Unchanged
from .sanitize import absolute_urls, clean_html, plain_text, strip_illegal_xml
from .slugs import LinkRules
from .sources import PolledSource, Source, prepared
from .urls import UnsafeURL, as_uri, public_url

if (
    TYPE_CHECKING
):  # the store's protocols import SQLAlchemy; a collect that changes nothing needs none
    from .store.protocols import ArticleWriter

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


def _texts(values: list[str]) -> list[str]:
    return [t for t in (plain_text(v) for v in values) if t]


def normalise(article: Article) -> Article:
    """Plain-text fields, sanitised HTML content, dates without microseconds.

    Raises ArticleError when the link or lead image is not a publishable http(s) URL. The
    body's relative links wait for ``finish``: they need the article's own URL.
    """
    link = _checked(article, "the link", article.link) if article.link else ""
    image = _checked(article, "the image URL", article.image_url) if article.image_url else ""
    authors = list(dict.fromkeys(_texts(article.authors)))
    updated = article.updated.replace(microsecond=0) if article.updated else None
    return replace(
        article,
        title=plain_text(article.title),
        author=authors[0] if authors else "",
        authors=authors,
        section=plain_text(article.section),
        summary=plain_text(article.summary),
        highlights=_texts(article.highlights),
        tags=list(dict.fromkeys(_texts(article.tags))),
        image_alt=plain_text(article.image_alt),
        image_credit=plain_text(article.image_credit),
        slug=plain_text(article.slug),
        link=link,
        image_url=image,
        published=article.published.replace(microsecond=0),
        updated=updated,
        content_html=clean_html(article.content_html).strip(),
    )


def finish(article: Article) -> Article:
    """Once the store has settled the article's link: relative links and bare fragments in
    the body made absolute against it, and the digest of what readers see."""
    body = absolute_urls(article.content_html, article.link, as_uri)
    done = replace(article, content_html=body)
    done.content_hash = done.compute_hash()
    return done


def tag_uri(domain: str, article: Article) -> str:
    """An RFC 4151 ``tag:`` id from the site's domain, the first publication date and the key."""
    day = article.published.astimezone(UTC).date().isoformat()
    return f"tag:{domain},{day}:{quote(article.key, safe='/:._-~')}"


BATCH = 200  # articles per transaction: fast, and a crash loses at most one batch's work


def collect(
    sources: list[Source],
    store: ArticleWriter,
    domain: str,
    *,
    site_url: str = "",
    slug_ascii: bool = False,
) -> CollectReport:
    """Collect from every source; one bad item is reported and skipped, never fatal.

    ``site_url`` and ``slug_ascii`` (``[site] url`` and ``slug_ascii``) say how the links of
    articles that do not name their own are made.
    """
    report = CollectReport()
    known = store.source_hashes()
    rules = LinkRules(site_url or f"https://{domain}", slug_ascii)
    batch: list[tuple[Article, str]] = []
    keys_seen: set[str] = set()

    def flush() -> None:
        results = store.upsert_articles(batch, rules, finish)
        for (article, _), result in zip(batch, results, strict=True):
            if result == "duplicate":
                log.warning(
                    "%s repeats an article already stored (same explicit link %s); skipped",
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
            if not isinstance(item, ArticleError):
                if item.key in keys_seen:  # the same source twice (a link to a file beside it)
                    log.warning("%s was read twice in this run; skipped the second", item.key)
                    report.duplicates += 1
                    continue
                keys_seen.add(item.key)
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
            batch.append((article, tag_uri(domain, article)))
            if len(batch) >= BATCH:
                flush()
        if isinstance(source, PolledSource):
            flush()  # its articles first: then its state (an ETag) can never run ahead of them
            source.commit()
    flush()
    return report
