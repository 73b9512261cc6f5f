"""A folder of article files: ``.txt`` in the scraped format, ``.md`` with front matter.

Each file's identity is ``<source name>:<path relative to the folder>``, so renaming the folder
or moving the site does not duplicate articles, and an edited file updates its article.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from ..errors import ArticleError
from . import SiteContext, SourceItem
from .markdown import parse_markdown, unknown_keys
from .scraped import parse_scraped

log = logging.getLogger(__name__)

PARSERS = {".txt": parse_scraped, ".md": parse_markdown, ".markdown": parse_markdown}


class FilesystemSource:
    """Yields one Article (or ArticleError) per article file under ``root``, in path order."""

    def __init__(self, name: str, root: Path, site: SiteContext) -> None:
        self.name = name
        self.root = root
        self.site = site

    def items(self) -> Iterator[SourceItem]:
        if not self.root.is_dir():
            yield ArticleError(
                str(self.root), None, "source folder does not exist",
                f"create it or fix `path` of source {self.name!r} in config.toml",
            )  # fmt: skip
            return
        for path in sorted(self.root.rglob("*")):
            parser = PARSERS.get(path.suffix.lower())
            if parser is None or not path.is_file() or path.name.startswith((".", "_")):
                continue
            rel = path.relative_to(self.root).as_posix()
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                yield ArticleError(
                    str(path), None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
                )
                continue
            except OSError as exc:
                yield ArticleError(str(path), None, f"cannot read: {exc.strerror}")
                continue
            try:
                article = parser(
                    text,
                    key=f"{self.name}:{rel}",
                    source=self.name,
                    path=str(path),
                    site_url=self.site.url,
                    tz=self.site.tz,
                )
            except ArticleError as exc:
                yield exc
                continue
            if parser is parse_markdown and (extra := unknown_keys(text)):
                log.warning("%s: unknown front matter keys ignored: %s", path, ", ".join(extra))
            yield article
