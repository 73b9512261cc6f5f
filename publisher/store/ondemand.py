"""``StoreOnDemand``: ``Store`` for a command, opened only when a call needs it.

Until then, the calls ``lite.LiteStore`` can answer go through the standard library's
``sqlite3``: a ``publisher collect`` that finds nothing new (it reads the source digests and
records its run) and ``publisher subscribers list`` never import SQLAlchemy. The first call
``LiteStore`` cannot answer opens ``Store`` (which migrates the database if it must), and
every call after it goes there too, so a run never mixes the two for writes that belong
together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Self

from ..models import Article, SourcePage, SourceState, Subscriber
from ..slugs import LinkRules
from .lite import LiteStore

if TYPE_CHECKING:
    from .articles import UpsertResult
    from .database import Store


class StoreOnDemand:
    """What ``publisher collect`` and ``publisher subscribers list`` need (the module says
    how it chooses between ``LiteStore`` and ``Store``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lite = LiteStore.open(url)
        self.full: Store | None = None

    def store(self) -> Store:
        """The full store, opened now if it is not yet."""
        if self.full is None:
            from .database import Store

            self.full = Store(self.url)
            if self.lite is not None:
                self.lite.close()
                self.lite = None
        return self.full

    def close(self) -> None:
        if self.lite is not None:
            self.lite.close()
        if self.full is not None:
            self.full.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- answered by LiteStore while no call has needed Store -------------------------------
    def _answering(self) -> LiteStore | Store:
        """LiteStore while no call has needed Store, then Store."""
        return self.lite if self.lite is not None else self.store()

    def list_subscribers(self, status: str | None = None) -> list[Subscriber]:
        return self._answering().list_subscribers(status)

    def source_hashes(self) -> dict[str, str]:
        return self._answering().source_hashes()

    def record_job(
        self, job: str, started: datetime, finished: datetime, ok: bool, summary: str
    ) -> None:
        self._answering().record_job(job, started, finished, ok, summary)

    def upsert_articles(
        self,
        batch: Sequence[tuple[Article, str]],
        rules: LinkRules | None = None,
        finish: Callable[[Article], Article] | None = None,
    ) -> list[UpsertResult | Literal["duplicate"]]:
        if not batch:  # a flush with nothing new: no reason to open Store
            return []
        return self.store().upsert_articles(batch, rules, finish)

    # -- always Store ----------------------------------------------------------------------
    def source_states(self) -> list[SourceState]:
        return self.store().source_states()

    def save_source_state(self, state: SourceState) -> None:
        self.store().save_source_state(state)

    def source_pages(
        self,
        source: str,
        *,
        urls: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
    ) -> dict[str, SourcePage]:
        return self.store().source_pages(source, urls=urls, statuses=statuses)

    def save_source_pages(self, source: str, pages: Iterable[SourcePage]) -> None:
        self.store().save_source_pages(source, pages)
