"""What polled sources remember between runs: one state row per source, and the pages seen.

Feed and sitemap sources read their state once at the start of a collection and write it
back after their articles are stored (``sources.PolledSource.commit``), so a crash never
leaves a saved ETag in front of articles that were not: the next run fetches them again.
``source_states`` and ``source_page_counts`` are what ``publisher status`` shows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select

from ..models import SourcePage, SourceState
from .base import chunks, dialect_insert, now_utc
from .schema import source_pages, source_state


def _upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    """Insert ``rows``, or update the ones whose ``keys`` already exist (both dialects)."""
    insert = dialect_insert(conn)
    for chunk in chunks(rows):
        stmt = insert(table).values(chunk)
        updated = {c: stmt.excluded[c] for c in chunk[0] if c not in keys}
        conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updated))


def _page_from_row(row: Any) -> SourcePage:
    return SourcePage(
        url=row.url,
        status=row.status,
        attempts=row.attempts,
        lastmod=row.lastmod,
        hints=json.loads(row.hints or "{}"),
        first_seen_at=row.first_seen_at,
        fetched_at=row.fetched_at,
        detail=row.detail,
    )


class SourceStateQueries:
    engine: Engine

    def source_states(self) -> list[SourceState]:
        """Every polled source's state, by name: for collection and ``publisher status``."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(source_state).order_by(source_state.c.source)).mappings()
            return [
                SourceState(**{("name" if k == "source" else k): v for k, v in r.items()})
                for r in rows
            ]

    def save_source_state(self, state: SourceState) -> None:
        values = asdict(state)
        values["source"] = values.pop("name")
        with self.engine.begin() as conn:
            _upsert(conn, source_state, [values], ["source"])

    def source_pages(
        self,
        source: str,
        *,
        urls: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
    ) -> dict[str, SourcePage]:
        """The pages of ``source`` among ``urls`` and/or with one of ``statuses``, by URL."""
        c = source_pages.c
        base = select(source_pages).where(c.source == source)
        if statuses is not None:
            base = base.where(c.status.in_(list(statuses)))
        found: dict[str, SourcePage] = {}
        with self.engine.connect() as conn:
            if urls is None:
                queries = [base]
            else:
                wanted = sorted(set(urls))
                queries = [base.where(c.url.in_(urls)) for urls in chunks(wanted)]
            for query in queries:
                for row in conn.execute(query):
                    found[row.url] = _page_from_row(row)
        return found

    def save_source_pages(self, source: str, pages: Iterable[SourcePage]) -> None:
        """Record what became of each page, in one transaction (insert or overwrite)."""
        now = now_utc()
        rows = [
            {
                "source": source,
                "url": p.url,
                "status": p.status,
                "attempts": p.attempts,
                "lastmod": p.lastmod,
                "hints": json.dumps(p.hints, ensure_ascii=False, sort_keys=True),
                "first_seen_at": p.first_seen_at or now,
                "fetched_at": p.fetched_at,
                "detail": p.detail[:2000],
            }
            for p in pages
        ]
        if rows:
            with self.engine.begin() as conn:
                _upsert(conn, source_pages, rows, ["source", "url"])

    def source_page_counts(self) -> dict[str, dict[str, int]]:
        """source -> status -> how many pages: the sitemap figures ``publisher status`` shows."""
        c = source_pages.c
        query = select(c.source, c.status, func.count()).group_by(c.source, c.status)
        counts: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for source, status, count in conn.execute(query):
                counts.setdefault(source, {})[status] = int(count)
        return counts
