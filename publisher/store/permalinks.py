"""Permanent URLs: the slugs of sections, authors and tags, and the links of articles.

A slug is decided the first time its name (or its article) is seen and never computed again,
so adding an author renumbers nobody, and editing a headline moves no link. ``slugs.py`` says
what a *new* slug would be (``LinkRules``: the site's URL and ``slug_ascii``); this module
keeps them and settles collisions with a suffix from the newcomer's own identity, never by
dropping it. Everything here runs inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..models import Article
from ..slugs import LinkRules, candidates
from .schema import article_urls, articles, slugs

KINDS = ("section", "author", "tag")


def group_slugs(conn: Connection, kind: str, names: Iterable[str] | None = None) -> dict[str, str]:
    """name -> stored slug for ``kind`` (only ``names``, when given)."""
    query = select(slugs.c.name, slugs.c.slug).where(slugs.c.kind == kind)
    if names is not None:
        query = query.where(slugs.c.name.in_(list(names)))
    return {name: slug for name, slug in conn.execute(query)}


def ensure_group_slugs(
    conn: Connection, kind: str, names: Iterable[str], rules: LinkRules, now: datetime
) -> dict[str, str]:
    """The slug of each of ``names``, storing one for every name seen for the first time.

    A new name takes its plain slug if no other name of its kind has it, else the plain slug
    with a suffix from its own name: the same suffix whichever run meets it first.
    """
    wanted = sorted({n for n in names if n})
    if not wanted:
        return {}
    found = group_slugs(conn, kind, wanted)
    for name in (n for n in wanted if n not in found):
        options = list(candidates(rules.slug(name), f"{kind}:{name}"))
        used = {
            slug
            for (slug,) in conn.execute(
                select(slugs.c.slug).where(slugs.c.kind == kind, slugs.c.slug.in_(options))
            )
        }
        slug = next(s for s in options if s not in used)
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(slugs).values(kind=kind, name=name, slug=slug, first_seen_at=now)
                )
            found[name] = slug
        except IntegrityError:  # another collector stored this name (or slug) just now
            found.update(group_slugs(conn, kind, [name]))
            if name not in found:
                raise
    return found


def link_owners(conn: Connection, urls: Iterable[str]) -> dict[str, int]:
    """Which of ``urls`` belong to an article, now or before it moved: url -> article id."""
    wanted = list(dict.fromkeys(urls))
    if not wanted:
        return {}
    now = select(articles.c.link, articles.c.id).where(articles.c.link.in_(wanted))
    before = select(article_urls.c.url, article_urls.c.article_id).where(
        article_urls.c.url.in_(wanted)
    )
    owners: dict[str, int] = {}
    for url, article_id in conn.execute(union_all(now, before)):
        owners.setdefault(url, article_id)
    return owners


@dataclass
class LinkPlanner:
    """Gives one batch of articles their links, inside the batch's transaction.

    ``owners`` starts as what the database says for the batch's likely links (None: nobody's),
    so a batch costs one lookup, not one per article; links given within the batch are added
    as they are decided, keyed by the article's source key.
    """

    conn: Connection
    rules: LinkRules
    owners: dict[str, int | str | None]
    sections: dict[str, str]

    @classmethod
    def looking_up(
        cls, conn: Connection, rules: LinkRules, likely: list[str], sections: dict[str, str]
    ) -> LinkPlanner:
        """A planner that already knows who owns each of ``likely``, in one query."""
        owners: dict[str, int | str | None] = dict.fromkeys(likely)
        owners.update(link_owners(conn, likely))
        return cls(conn, rules, owners, sections)

    def owner(self, url: str) -> int | str | None:
        if url not in self.owners:
            self.owners[url] = link_owners(self.conn, [url]).get(url)
        return self.owners[url]

    def derived(self, article: Article, slug: str, me: int | str) -> tuple[str, str]:
        """(slug, link) for an article that names no link: the first candidate slug whose
        link nobody else has (had)."""
        section = self.sections.get(article.section, "")
        for option in candidates(slug, article.key):
            link = self.rules.article_link(section, option)
            if self.owner(link) in (None, me):
                return option, link
        raise AssertionError("a 64-character hash suffix collided")  # pragma: no cover

    def claim(self, link: str, me: int | str) -> None:
        self.owners[link] = me


def moved(conn: Connection, article_id: int, old_link: str, now: datetime) -> None:
    """Remember ``old_link`` as one ``article_id`` had, unless it is already remembered."""
    if not conn.execute(select(article_urls.c.url).where(article_urls.c.url == old_link)).first():
        values: dict[str, Any] = {"url": old_link, "article_id": article_id, "replaced_at": now}
        conn.execute(insert(article_urls).values(**values))
