"""Queries on articles: upsert by key and content hash, and the reads feeds and digests need."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from sqlalchemy import (
    Engine,
    String,
    delete,
    func,
    insert,
    select,
    type_coerce,
    update,
)
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from ..models import Article, ArticleHead
from ..slugs import LinkRules, candidates
from .base import chunks, now_utc, take_collect_lock
from .groups import claim_seconds, group_rows, replace_groups, shown_second
from .permalinks import LinkPlanner, ensure_group_slugs, group_slugs, moved
from .schema import article_groups, article_urls, articles

UpsertResult = Literal["added", "updated", "unchanged"]


def offset_minutes(moment: datetime) -> int:
    """The UTC offset a datetime carries, in whole minutes east (what feeds print)."""
    delta = moment.utcoffset()
    return int(delta.total_seconds() // 60) if delta is not None else 0


def _zoned(moment: datetime, minutes: int) -> datetime:
    return moment.astimezone(timezone(timedelta(minutes=minutes)))


def _article_from_row(row: RowMapping) -> Article:
    return Article(
        id=row["id"],
        key=row["key"],
        guid=row["guid"],
        source=row["source"],
        title=row["title"],
        link=row["link"],
        slug=row["slug"],
        author=row["author"],
        authors=json.loads(row["authors"]),
        section=row["section"],
        summary=row["summary"],
        content_html=row["content_html"],
        highlights=json.loads(row["highlights"]),
        tags=json.loads(row["tags"]),
        image_url=row["image_url"],
        image_alt=row["image_alt"],
        image_credit=row["image_credit"],
        published=_zoned(row["published_at"], row["published_offset"]),
        updated=_zoned(row["updated_at"], row["updated_offset"]),
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
        "slug": article.slug,
        "author": article.author,
        "authors": json.dumps(article.authors, ensure_ascii=False),
        "section": article.section,
        "summary": article.summary,
        "content_html": article.content_html,
        "highlights": json.dumps(article.highlights, ensure_ascii=False),
        "tags": json.dumps(article.tags, ensure_ascii=False),
        "image_url": article.image_url,
        "image_alt": article.image_alt,
        "image_credit": article.image_credit,
        "published_at": article.published,
        "published_offset": offset_minutes(article.published),
        "content_hash": article.content_hash or article.compute_hash(),
        "source_hash": article.source_hash or None,
    }


def _names(value: str) -> tuple[str, ...]:
    """A stored JSON list of names as a tuple."""
    return tuple(json.loads(value)) if value != "[]" else ()


def _updated(article: Article, fallback: datetime) -> tuple[datetime, int]:
    """(updated_at, its offset): the source's own date, else ``fallback`` shown in the
    published date's offset."""
    if article.updated is not None:
        return article.updated, offset_minutes(article.updated)
    return fallback, offset_minutes(article.published)


def _place(
    planner: LinkPlanner, article: Article, row: Any, me: int | str
) -> tuple[str, str] | None:
    """(slug, link) of ``article``, or None when its explicit link is another article's.

    An explicit link is used as given. Otherwise a stored article keeps its slug and link
    whatever was edited, unless its source names a different slug; a new one gets a slug
    from its explicit slug or headline, with a suffix when that link is taken.
    """
    rules = planner.rules
    if article.link:
        if planner.owner(article.link) not in (None, me):
            return None
        return (row.slug if row else rules.slug(article.slug or article.title)), article.link
    if row is not None:
        if not article.slug or row.slug in candidates(rules.slug(article.slug), article.key):
            return row.slug, row.link
        return planner.derived(article, rules.slug(article.slug), me)
    return planner.derived(article, rules.slug(article.slug or article.title), me)


def _claim_feed_seconds(
    conn: Connection, inserts: list[dict[str, Any]], edits: list[tuple[int, dict[str, Any]]]
) -> None:
    """Each new and edited article of a batch claims its feed second as it is stored (the
    edited give theirs up first), so a feed run finds every second already claimed."""
    wanted = [(shown_second(v["published_at"], v["updated_at"]), (0, i)) for i, v in edits]
    wanted += [
        (shown_second(v["published_at"], v["updated_at"]), (1, n)) for n, v in enumerate(inserts)
    ]
    if not wanted:
        return
    claims = claim_seconds(conn, wanted, releasing=[i for i, _ in edits])
    for i, values in edits:
        values["feed_second"] = claims[(0, i)]
    for n, values in enumerate(inserts):
        values["feed_second"] = claims[(1, n)]


class ArticleQueries:
    engine: Engine

    def upsert_articles(
        self,
        batch: Sequence[tuple[Article, str]],
        rules: LinkRules | None = None,
        finish: Callable[[Article], Article] | None = None,
    ) -> list[UpsertResult | Literal["duplicate"]]:
        """Store a batch in one transaction: insert new keys, update changed ones.

        ``guid`` is stored only with a new article: an edit never changes a feed item's id.
        Links are settled here, against every link stored (``_place``; ``rules`` say how the
        site makes them), and each article is then handed to ``finish`` (collect makes its
        body's relative links absolute against the link and hashes it) before it is
        compared and written. An article whose explicit link is already another article's
        is a duplicate and is not stored; a made-up link that is taken gets a suffix instead.
        """
        if not batch:
            return []
        rules = rules or LinkRules("")
        moment = now_utc()  # changed_at keeps full precision: feeds compare it
        now = moment.replace(microsecond=0)  # shown in feeds, which show whole seconds
        c = articles.c
        keys = [a.key for a, _ in batch]
        with self.engine.begin() as conn:
            take_collect_lock(conn)
            existing = {
                r.key: r
                for r in conn.execute(
                    select(
                        c.id, c.key, c.slug, c.link, c.content_hash, c.source_hash,
                        c.published_offset, c.updated_offset, c.first_seen_at,
                    ).where(c.key.in_(keys))
                )
            }  # fmt: skip
            planner = self._planner(conn, [a for a, _ in batch], existing, rules, now)
            results: list[UpsertResult | Literal["duplicate"]] = []
            inserts: list[dict[str, Any]] = []
            edits: list[tuple[int, dict[str, Any]]] = []  # (id, new values) of edited articles
            groups: dict[int, list[dict[str, Any]]] = {}  # each edited article's feed groups
            for article, guid in batch:
                row = existing.get(article.key)
                me: int | str = row.id if row is not None else article.key
                placed = _place(planner, article, row, me)
                if placed is None:
                    results.append("duplicate")
                    continue
                planner.claim(placed[1], me)
                article = replace(article, slug=placed[0], link=placed[1])
                article = finish(article) if finish else article
                values = _article_values(article)
                if row is None:
                    updated, offset = _updated(article, article.published)
                    inserts.append(
                        {**values, "guid": guid, "updated_at": updated, "updated_offset": offset,
                         "first_seen_at": moment, "changed_at": moment,
                         "_groups": (article.authors, article.tags)}
                    )  # fmt: skip
                    results.append("added")
                    continue
                if row.link != article.link:
                    moved(conn, row.id, row.link, now)
                    conn.execute(delete(article_urls).where(article_urls.c.url == article.link))
                if row.content_hash == values["content_hash"]:
                    updated, offset = _updated(article, now)
                    same = (row.source_hash, row.published_offset, row.updated_offset)
                    if same != (values["source_hash"], values["published_offset"], offset):
                        # the same article from a reformatted file, or offsets learnt again
                        conn.execute(
                            update(articles)
                            .where(c.id == row.id)
                            .values(
                                source_hash=values["source_hash"],
                                published_offset=values["published_offset"],
                                updated_offset=offset,
                            )
                        )
                    results.append("unchanged")
                    continue
                # An edit moves `updated`: to the date the source gives, else to now.
                updated, offset = _updated(article, now)
                values |= {"updated_at": updated, "updated_offset": offset, "changed_at": moment}
                edits.append((row.id, values))
                where = {**values, "first_seen_at": row.first_seen_at}
                groups[row.id] = group_rows(row.id, where, article.authors, article.tags)
                results.append("updated")
            _claim_feed_seconds(conn, inserts, edits)
            for row_id, values in edits:
                conn.execute(update(articles).where(c.id == row_id).values(**values))
            replace_groups(conn, groups, new=False)
            replace_groups(conn, self._insert(conn, inserts, results), new=True)
        return results

    @staticmethod
    def _planner(
        conn: Connection,
        batch: list[Article],
        existing: dict[str, Any],
        rules: LinkRules,
        now: datetime,
    ) -> LinkPlanner:
        """Every section, author and tag of the batch gets its stored slug (first sight:
        a new one); the links the batch is likely to want are looked up at once."""
        sections = ensure_group_slugs(conn, "section", (a.section for a in batch), rules, now)
        ensure_group_slugs(conn, "author", (n for a in batch for n in a.authors), rules, now)
        ensure_group_slugs(conn, "tag", (t for a in batch for t in a.tags), rules, now)
        likely = [
            a.link or rules.article_link(sections.get(a.section, ""), rules.slug(a.slug or a.title))
            for a in batch
            if a.link or a.slug or a.key not in existing
        ]
        return LinkPlanner.looking_up(conn, rules, likely, sections)

    @staticmethod
    def _insert(
        conn: Connection,
        inserts: list[dict[str, Any]],
        results: list[UpsertResult | Literal["duplicate"]],
    ) -> dict[int, list[dict[str, Any]]]:
        """Insert new articles; return the feed groups of each one inserted, by its id.

        Each of ``inserts`` carries its (authors, tags) lists under ``_groups``, not a column.
        """
        if not inserts:
            return {}
        lists = {values["key"]: values.pop("_groups") for values in inserts}
        try:
            with conn.begin_nested():
                conn.execute(insert(articles), inserts)
        except IntegrityError:  # a concurrent collect inserted some first: go one by one
            positions = [i for i, result in enumerate(results) if result == "added"]
            for position, values in zip(positions, inserts, strict=True):
                try:
                    with conn.begin_nested():
                        conn.execute(insert(articles).values(**values))
                except IntegrityError:
                    results[position] = "unchanged"
                    del lists[values["key"]]
        c = articles.c
        ids = {r.key: r.id for r in conn.execute(select(c.key, c.id).where(c.key.in_(list(lists))))}
        by_key = {values["key"]: values for values in inserts}
        return {
            ids[key]: group_rows(ids[key], by_key[key], *lists[key]) for key in lists if key in ids
        }

    def group_slugs(self, kind: str) -> dict[str, str]:
        """Every stored name of ``kind`` (section, author, tag) -> its slug."""
        with self.engine.connect() as conn:
            return group_slugs(conn, kind)

    def ensure_slugs(self, kind: str, names: Iterable[str], rules: LinkRules) -> dict[str, str]:
        """The slugs of ``names``, storing one for each name seen for the first time (feeds
        ask for names stored before slugs were, and for tags when tag feeds are turned on)."""
        with self.engine.begin() as conn:
            return ensure_group_slugs(conn, kind, names, rules, now_utc().replace(microsecond=0))

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

    def article_heads(self, ids: Sequence[int]) -> dict[int, ArticleHead]:
        """The heads of ``ids`` (articles without their text): what feeds fingerprint with.

        An article whose feed second is not claimed yet (collected while the feeds ran)
        shows its own second.
        """
        c = articles.c
        query = select(
            c.id, c.guid, c.section, c.author, c.content_hash, c.image_url, c.authors,
            c.feed_second, c.published_at, c.updated_at,
        )  # fmt: skip
        found: dict[int, ArticleHead] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(ids)):
                for r in conn.execute(query.where(c.id.in_(chunk))):
                    second = r[7] if r[7] is not None else shown_second(r[8], r[9])
                    authors = (r[3],) if r[6] == f'["{r[3]}"]' else _names(r[6])
                    found[r[0]] = ArticleHead(r[0], r[1], r[2], r[3], r[4], r[5], authors, second)
        return found

    def corpus_key(self) -> str:
        """Changes whenever any article is added, edited or deleted (count and newest change)."""
        query = select(func.count(), func.max(type_coerce(articles.c.changed_at, String)))
        with self.engine.connect() as conn:
            count, newest = conn.execute(query).one()
        return f"{count}|{newest}"

    def articles_of_period(self, kind: str, name: str, period: str) -> list[Article]:
        """The articles of one feed group first collected in ``period`` ("2024-09"), newest
        publication first: what the group's archive of that month holds."""
        g = article_groups.c
        query = (
            select(articles)
            .join(article_groups, g.article_id == articles.c.id)
            .where(g.kind == kind, g.name == name, g.period == period)
            .order_by(articles.c.published_at.desc(), articles.c.id.desc())
        )
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
