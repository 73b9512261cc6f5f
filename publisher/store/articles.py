"""Queries on articles: upsert by key and content hash, and the reads feeds and digests need."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, String, func, insert, select, type_coerce, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from ..models import Article, ArticleHead
from .base import now_utc
from .schema import articles

UpsertResult = Literal["added", "updated", "unchanged"]


def _article_from_row(row: RowMapping) -> Article:
    return Article(
        id=row["id"],
        key=row["key"],
        guid=row["guid"],
        source=row["source"],
        title=row["title"],
        link=row["link"],
        author=row["author"],
        section=row["section"],
        summary=row["summary"],
        content_html=row["content_html"],
        highlights=json.loads(row["highlights"]),
        tags=json.loads(row["tags"]),
        image_url=row["image_url"],
        image_alt=row["image_alt"],
        image_credit=row["image_credit"],
        published=row["published_at"],
        updated=row["updated_at"],
        first_seen=row["first_seen_at"],
        content_hash=row["content_hash"],
        source_hash=row["source_hash"] or "",
    )


def _article_values(article: Article) -> dict[str, Any]:
    return {
        "key": article.key,
        "source": article.source,
        "title": article.title,
        "link": article.link,
        "author": article.author,
        "section": article.section,
        "summary": article.summary,
        "content_html": article.content_html,
        "highlights": json.dumps(article.highlights, ensure_ascii=False),
        "tags": json.dumps(article.tags, ensure_ascii=False),
        "image_url": article.image_url,
        "image_alt": article.image_alt,
        "image_credit": article.image_credit,
        "published_at": article.published,
        "content_hash": article.content_hash or article.compute_hash(),
        "source_hash": article.source_hash or None,
    }


class ArticleQueries:
    engine: Engine

    def upsert_articles(
        self, batch: Sequence[tuple[Article, str]]
    ) -> list[UpsertResult | Literal["duplicate"]]:
        """Store a batch in one transaction: insert new keys, update changed ones.

        ``guid`` is stored only with a new article: an edit never changes a feed item's id. An
        article whose link already belongs to another key is a duplicate and is not stored.
        """
        if not batch:
            return []
        now = now_utc()
        c = articles.c
        keys = [a.key for a, _ in batch]
        with self.engine.begin() as conn:
            existing = {
                r.key: r
                for r in conn.execute(
                    select(c.id, c.key, c.content_hash, c.source_hash).where(c.key.in_(keys))
                )
            }
            owners: dict[str, str] = {}
            links = select(c.link, c.key).where(c.link.in_([a.link for a, _ in batch]))
            for link, key in conn.execute(links.order_by(c.id)):
                owners.setdefault(link, key)
            results: list[UpsertResult | Literal["duplicate"]] = []
            inserts: list[dict[str, Any]] = []
            for article, guid in batch:
                if owners.setdefault(article.link, article.key) != article.key:
                    results.append("duplicate")
                    continue
                values = _article_values(article)
                row = existing.get(article.key)
                if row is None:
                    updated = article.updated or article.published
                    inserts.append(
                        {**values, "guid": guid, "updated_at": updated, "first_seen_at": now}
                    )
                    results.append("added")
                elif row.content_hash == values["content_hash"]:
                    if row.source_hash != values["source_hash"]:  # same article, reformatted file
                        conn.execute(
                            update(articles)
                            .where(c.id == row.id)
                            .values(source_hash=values["source_hash"])
                        )
                    results.append("unchanged")
                else:
                    # An edit moves `updated`: to the date the source gives, else to now.
                    conn.execute(
                        update(articles)
                        .where(c.id == row.id)
                        .values(**values, updated_at=article.updated or now, changed_at=now)
                    )
                    results.append("updated")
            if inserts:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(articles), inserts)
                except IntegrityError:  # a concurrent collect inserted some first: go one by one
                    for i, values in enumerate(inserts):
                        try:
                            with conn.begin_nested():
                                conn.execute(insert(articles).values(**values))
                        except IntegrityError:
                            results[results.index("added", i)] = "unchanged"
        return results

    def source_hashes(self) -> dict[str, str]:
        """key -> hash of the source file it was read from, so unchanged files are not re-parsed."""
        query = select(articles.c.key, articles.c.source_hash).where(
            articles.c.source_hash.is_not(None)
        )
        with self.engine.connect() as conn:
            return {key: value for key, value in conn.execute(query)}

    def article_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(articles)).scalar_one())

    def latest_articles(self, limit: int) -> list[Article]:
        """The newest ``limit`` articles by publication date, newest first."""
        query = (
            select(articles)
            .order_by(articles.c.published_at.desc(), articles.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_article_from_row(r) for r in conn.execute(query).mappings()]

    def article_heads(self) -> list[ArticleHead]:
        """Every article without its text, newest publication first: what feeds plan with.

        Timestamps come back as the database's own text, unparsed: ten thousand rows load in
        a fraction of the time, and text compares and slices ("2024-09") just as well.
        """
        c = articles.c
        query = select(
            c.id, c.guid, c.section, c.author, type_coerce(c.updated_at, String),
            type_coerce(c.first_seen_at, String), c.content_hash, c.image_url,
        ).order_by(c.published_at.desc(), c.id.desc())  # fmt: skip
        with self.engine.connect() as conn:
            return [
                ArticleHead(r[0], r[1], r[2], r[3], str(r[4]), str(r[5]), r[6], r[7])
                for r in conn.execute(query)
            ]

    def corpus_key(self) -> str:
        """Changes whenever any article is added, edited or deleted (count and newest change)."""
        query = select(func.count(), func.max(type_coerce(articles.c.changed_at, String)))
        with self.engine.connect() as conn:
            count, newest = conn.execute(query).one()
        return f"{count}|{newest}"

    def articles_first_seen_between(
        self,
        start: datetime,
        end: datetime,
        *,
        section: str | None = None,
        author: str | None = None,
    ) -> list[Article]:
        """Articles first collected in [start, end), newest publication first (for archives)."""
        query = select(articles).where(
            articles.c.first_seen_at >= start, articles.c.first_seen_at < end
        )
        if section is not None:
            query = query.where(articles.c.section == section)
        if author is not None:
            query = query.where(articles.c.author == author)
        query = query.order_by(articles.c.published_at.desc(), articles.c.id.desc())
        with self.engine.connect() as conn:
            return [_article_from_row(r) for r in conn.execute(query).mappings()]

    def articles_by_ids(self, ids: Sequence[int]) -> list[Article]:
        """Articles in the order of ``ids`` (missing ids are skipped)."""
        if not ids:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(select(articles).where(articles.c.id.in_(list(ids)))).mappings()
            found = {r["id"]: _article_from_row(r) for r in rows}
        return [found[i] for i in ids if i in found]
