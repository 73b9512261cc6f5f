"""A folder of article files: ``.txt`` in the scraped format, ``.md`` with front matter.

Each file's identity is ``<source name>:<path relative to the folder>``, so renaming the folder
or moving the site does not duplicate articles, and an edited file updates its article. A
symbolic link to another file in the folder has that file's identity: it is the same source,
and collect reports it as a duplicate rather than syndicating the story twice.

A file is read only if its real path (every symbolic link followed) stays inside the folder:
a link to ``/etc/passwd`` or to another project's drafts is refused without being opened, and
the refusal names the link, not its target. A file over the source's ``max_bytes`` is
reported and skipped unread: no article is that big, and a stray video or dump must not be
loaded into memory and then into every feed.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..errors import ArticleError
from ..models import Unchanged
from . import SiteContext, SourceItem
from .markdown import parse_markdown
from .scraped import parse_scraped

log = logging.getLogger(__name__)

PARSERS = {".txt": parse_scraped, ".md": parse_markdown, ".markdown": parse_markdown}
# Part of every source digest: bump when parsing changes so every file is read again once.
PARSER_VERSION = b"files-3"
DEFAULT_MAX_BYTES = 2_000_000


class FilesystemSource:
    """Yields one Article (or ArticleError) per article file under ``root``, in path order."""

    def __init__(
        self, name: str, root: Path, site: SiteContext, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.name = name
        self.root = root
        self.site = site
        self.max_bytes = max_bytes

    def _digest(self, data: bytes) -> str:
        """What the parsed article depends on: the bytes, the parser, the site's URL and zone."""
        h = hashlib.sha256(PARSER_VERSION)
        h.update(f"|{self.site.url}|{self.site.tz.key}|".encode())
        h.update(data)
        return h.hexdigest()

    def items(self, known: Mapping[str, str]) -> Iterator[SourceItem]:
        try:
            root = self.root.resolve(strict=True)
        except (OSError, RuntimeError):
            root = None
        if root is None or not root.is_dir():
            yield ArticleError(
                str(self.root), None, "source folder does not exist",
                f"create it or fix `path` of source {self.name!r} in config.toml",
            )  # fmt: skip
            return
        for path in sorted(self.root.rglob("*")):
            parser = PARSERS.get(path.suffix.lower())
            if parser is None or not path.is_file() or path.name.startswith((".", "_")):
                continue
            try:
                real = inside(path, root)
                data = read_file(real, self.max_bytes)
            except OSError as exc:
                yield ArticleError(str(path), None, f"cannot read: {exc.strerror}")
                continue
            except TooBig as exc:
                yield ArticleError(
                    str(path), None,
                    f"is {exc.size:,} bytes, more than this source's max_bytes "
                    f"({self.max_bytes:,}); not read",
                    "shorten it, or raise `max_bytes` of this [[sources]] table",
                )  # fmt: skip
                continue
            except OutsideFolder:
                yield ArticleError(
                    str(path), None,
                    "is a symbolic link to a file outside the source folder; not read",
                    "put the file itself in the folder, or remove the link",
                )  # fmt: skip
                continue
            key = f"{self.name}:{real.relative_to(root).as_posix()}"
            digest = self._digest(data)
            if known.get(key) == digest:
                yield Unchanged(key)
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                reason = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
                yield ArticleError(str(path), None, reason)
                continue
            try:
                article = parser(
                    text,
                    key=key,
                    source=self.name,
                    path=str(path),
                    site_url=self.site.url,
                    tz=self.site.tz,
                )
            except ArticleError as exc:
                yield exc
                continue
            article.source_hash = digest
            yield article


class OutsideFolder(Exception):
    """A path whose real location (links followed) is not inside the folder it was found in."""


class TooBig(Exception):
    """A file larger than the source allows; ``size`` is what it had when it was looked at."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def inside(path: Path, root: Path) -> Path:
    """The real path of ``path`` if it lies inside ``root`` (already resolved); else raise."""
    try:
        real = path.resolve(strict=True)
    except RuntimeError:  # a loop of links
        raise OutsideFolder(path) from None
    if not real.is_relative_to(root):
        raise OutsideFolder(path)
    return real


def read_file(real: Path, limit: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of ``real`` (a path ``inside`` resolved); TooBig if it holds more than
    ``limit`` bytes (then at most ``limit + 1`` are read).

    The resolved path is opened with O_NOFOLLOW, so a link swapped in for the last component
    after the check is not followed either.
    """
    fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise TooBig(size)
        data = handle.read(limit + 1)  # a file that grew since fstat is caught here
    if len(data) > limit:
        raise TooBig(len(data))
    return data
