"""Article sources: each kind turns some outside material into ``Article`` objects.

A source never raises for one bad item: it yields an ``ArticleError`` in its place, so the
collector can report it (which, where, why) and carry on with the rest.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from ..config import FilesSource, Settings
from ..errors import ArticleError
from ..models import Article, Unchanged

SourceItem = Article | ArticleError | Unchanged


@dataclass(frozen=True)
class SiteContext:
    """What a source needs to know about the site: absolute links and the newsroom's zone."""

    url: str
    tz: ZoneInfo


class Source(Protocol):
    """Anything that yields articles (or the error that stood in for one).

    ``known`` maps article keys to the source digest stored with them; a source that can tell
    an item is byte-for-byte unchanged yields ``Unchanged`` instead of parsing it again.
    """

    name: str

    def items(self, known: Mapping[str, str]) -> Iterator[SourceItem]: ...


def build_sources(settings: Settings) -> list[Source]:
    """One Source per enabled ``[[sources]]`` table, in config order."""
    from .files import FilesystemSource

    site = SiteContext(settings.site.url, settings.site.tz)
    built: list[Source] = []
    for conf in settings.sources:
        if not conf.enabled:
            continue
        if isinstance(conf, FilesSource):
            built.append(
                FilesystemSource(conf.name, settings.path(conf.path), site, conf.max_bytes)
            )
    return built
