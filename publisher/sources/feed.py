"""An upstream feed (RSS, Atom or JSON Feed) as a source of articles.

Each poll is a conditional GET (the stored ETag and Last-Modified): an unchanged feed costs
one 304 and adds nothing. An item's identity is ``<source name>:<guid>``, or its link when it
has no guid, so an edited item updates its article instead of adding another; within one
poll, items repeating an earlier item's guid, link or content are dropped. The first poll of
a new source takes only items from the last ``backfill_days``, and the cutoff stays where
that first poll put it, so older items are never taken later either. An undated item is
taken as published when first seen, except on the first poll, where it is remembered as old.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime

from ..errors import ArticleError
from ..models import Article, SourcePage, Unchanged
from . import SourceItem
from .feedparse import FeedEntry, parse_feed
from .fetch import Response, url_problem
from .polled import Polled, item_key

log = logging.getLogger(__name__)

# Part of every item's source digest: bump when the mapping changes so every item is re-read.
PARSER_VERSION = "feed-1"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
    "text/xml;q=0.9, application/json;q=0.8, */*;q=0.1"
)


def _digest(entry: FeedEntry) -> str:
    """What the stored article depends on: the entry as parsed, and the mapping's version."""
    raw = json.dumps([PARSER_VERSION, vars(entry)], default=str, ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _content_hash(entry: FeedEntry) -> str:
    raw = "\x00".join([entry.title.strip(), entry.content.strip(), entry.summary.strip()])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class FeedPoller(Polled):
    """Yields the new and edited items of one feed, as articles, each poll."""

    kind = "feed"
    accept = ACCEPT

    def read(self, answer: Response, known: Mapping[str, str]) -> Iterator[SourceItem]:
        if self.same_as_last_time(answer):
            self.succeed(answer)
            return
        try:
            parsed = parse_feed(answer.body, answer.url, answer.content_type)
        except Exception as exc:  # feedparser on hostile input: one source, not the run
            log.exception("%s: the feed parser failed on %s", self.name, answer.url)
            parsed_problem = f"the feed could not be parsed ({exc.__class__.__name__}: {exc})"
            yield self.fail(parsed_problem, where=answer.url)
            return
        if not parsed.entries and parsed.problem:
            yield self.fail(f"not a feed: {parsed.problem}", where=answer.url)
            return
        first_poll = self.first_poll
        self.succeed(answer)
        if parsed.problem:
            yield ArticleError(
                answer.url,
                None,
                f"malformed feed ({parsed.problem}); kept the {len(parsed.entries)} items that parsed",
                "tell the feed's publisher; items after the damage may be missing",
            )
        yield from self._articles(parsed.entries, answer.url, known, first_poll)

    def _articles(
        self, entries: list[FeedEntry], where: str, known: Mapping[str, str], first_poll: bool
    ) -> Iterator[SourceItem]:
        seen: set[str] = set()
        undated = [e.link for e in entries if e.published is None and e.link]
        old = (
            set(self.store.source_pages(self.name, urls=undated, statuses=["old"]))
            if undated and not first_poll
            else set()
        )
        for n, entry in enumerate(entries, start=1):
            item = f"{where} item {n}"
            link = entry.link or (entry.guid if not url_problem(entry.guid) else "")
            if not link:
                yield ArticleError(item, None, f"the item {entry.title[:60]!r} has no link")
                continue
            if problem := url_problem(link):
                yield ArticleError(item, None, f"link refused: {problem}")
                continue
            ident = entry.guid or link
            marks = {f"id:{ident}", f"link:{link}", f"hash:{_content_hash(entry)}"}
            if marks & seen:
                log.info(
                    "%s: %s repeats an earlier item of the same feed; skipped", self.name, item
                )
                continue
            seen |= marks
            published = entry.published
            if published is None:
                if first_poll:  # older than the window, most likely: never take it
                    self.record(SourcePage(link, "old", detail="undated, on the first poll"))
                    continue
                if link in old:
                    continue
                published = self.now
            elif published < self.since:
                continue
            key = item_key(self.name, ident)
            digest = _digest(entry)
            if known.get(key) == digest:
                yield Unchanged(key)
                continue
            yield self._article(entry, key, link, published, digest)

    def _article(
        self, entry: FeedEntry, key: str, link: str, published: datetime, digest: str
    ) -> Article:
        image = entry.image if entry.image and not url_problem(entry.image) else ""
        return Article(
            key=key,
            source=self.name,
            title=entry.title,
            link=link,
            published=published,
            updated=entry.updated if entry.updated and entry.updated > published else None,
            author=entry.author,
            section=entry.tags[0] if entry.tags else "",
            summary=entry.summary,
            content_html=entry.content or entry.summary,
            tags=entry.tags,
            image_url=image,
            source_hash=digest,
        )
