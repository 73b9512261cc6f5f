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
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from stat import S_ISREG
from typing import Any

from ..errors import ArticleError
from ..models import Article, Unchanged
from . import SiteContext, SourceItem

log = logging.getLogger(__name__)


def _scraped(text: str, **context: Any) -> Article:
    from .scraped import parse_scraped

    return parse_scraped(text, **context)


def _markdown(text: str, **context: Any) -> Article:
    """Python-Markdown and YAML load on the first file that needs them: a run over an
    unchanged folder parses nothing and should not pay for them."""
    from .markdown import parse_markdown

    return parse_markdown(text, **context)


PARSERS = {".txt": _scraped, ".md": _markdown, ".markdown": _markdown}
# Part of every source digest: bump when parsing changes so every file is read again once.
PARSER_VERSION = b"files-4"
DEFAULT_MAX_BYTES = 2_000_000
# A run with at least this many files to read parses them in worker processes (when the
# source has any): below it, starting the workers costs more than they save.
PARSE_IN_PROCESSES_FROM = 200
CHUNK = 25  # files per task sent to a worker: few round trips, yet the order flows steadily
# A file modified this recently may change again within the same clock tick without its
# size changing, so its (size, mtime) proves nothing yet: it is read and hashed instead.
RACY_SECONDS = 2.0


@dataclass(frozen=True)
class FileJob:
    """One file to read and parse: where it was found, where it really is, its identity."""

    path: str  # as found under the configured folder: what errors name
    real: str  # every link followed, inside the folder
    key: str
    stamp: str  # "<context>:<size>:<mtime_ns>:", the first part of the digest


@dataclass(frozen=True)
class Parsing:
    """What parsing a file depends on besides its bytes (picklable, for worker processes)."""

    source: str
    site: SiteContext
    max_bytes: int

    def context(self) -> str:
        """The parser version, the site's URL and zone, hashed short: part of every digest."""
        h = hashlib.sha256(PARSER_VERSION + f"|{self.site.url}|{self.site.tz.key}".encode())
        return h.hexdigest()[:8]

    def read(self, job: FileJob, known: str | None) -> SourceItem:
        """``job``'s article, Unchanged when its bytes hash to ``known``, or why not."""
        try:
            data = read_file(Path(job.real), self.max_bytes)
        except OSError as exc:
            return ArticleError(job.path, None, f"cannot read: {exc.strerror}")
        except TooBig as exc:
            return ArticleError(
                job.path, None,
                f"is {exc.size:,} bytes, more than this source's max_bytes "
                f"({self.max_bytes:,}); not read",
                "shorten it, or raise `max_bytes` of this [[sources]] table",
            )  # fmt: skip
        digest = (job.stamp + hashlib.sha256(data).hexdigest())[:64]
        if known == digest:
            return Unchanged(job.key)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            reason = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
            return ArticleError(job.path, None, reason)
        parser = PARSERS[Path(job.path).suffix.lower()]
        try:
            article = parser(
                text,
                key=job.key,
                source=self.source,
                path=job.path,
                site_url=self.site.url,
                tz=self.site.tz,
            )
        except ArticleError as exc:
            return exc
        article.source_hash = digest
        return article


def _read_chunk(parsing: Parsing, jobs: Sequence[tuple[FileJob, str | None]]) -> list[SourceItem]:
    """A worker's task: several files read and parsed, in order."""
    return [parsing.read(job, known) for job, known in jobs]


class FilesystemSource:
    """Yields one Article (or ArticleError) per article file under ``root``, in path order.

    A file whose size and modification time are those stored with its article is not even
    opened: a run over 10,000 unchanged files costs 10,000 ``stat`` calls. The stored digest
    starts with them (``FileJob.stamp``) and ends with the SHA-256 of the bytes, so a file
    touched but not changed is read and found unchanged. When many files need reading,
    ``processes`` worker processes parse them (-1: one per core, 0: none); the articles come
    back in path order either way, the same articles.
    """

    def __init__(
        self,
        name: str,
        root: Path,
        site: SiteContext,
        max_bytes: int = DEFAULT_MAX_BYTES,
        processes: int = -1,
    ) -> None:
        self.name = name
        self.root = root
        self.site = site
        self.max_bytes = max_bytes
        self.processes = processes

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
        parsing = Parsing(self.name, self.site, self.max_bytes)
        found = list(self._scan(root, parsing.context(), known))
        reads = sum(isinstance(item, FileJob) for item in found)
        workers = self._workers(reads)
        if not workers:
            for item in found:
                yield parsing.read(item, known.get(item.key)) if isinstance(item, FileJob) else item
            return
        log.debug("parsing %d files of %s in %d processes", reads, self.name, workers)
        # Spawned, not forked: the collector may be a thread of the daemon or the web server.
        pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
        try:
            yield from self._in_pool(pool, parsing, found, known)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _workers(self, reads: int) -> int:
        if reads < PARSE_IN_PROCESSES_FROM or not self.processes:
            return 0
        if self.processes > 0:
            return self.processes
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        return min(cores or os.cpu_count() or 1, reads // CHUNK)

    @staticmethod
    def _in_pool(
        pool: ProcessPoolExecutor,
        parsing: Parsing,
        found: list[FileJob | SourceItem],
        known: Mapping[str, str],
    ) -> Iterator[SourceItem]:
        """Every item of ``found`` in order, the files read by ``pool``, ``CHUNK`` a task."""
        jobs = [(item, known.get(item.key)) for item in found if isinstance(item, FileJob)]
        futures = [
            pool.submit(_read_chunk, parsing, jobs[i : i + CHUNK])
            for i in range(0, len(jobs), CHUNK)
        ]

        def results() -> Iterator[SourceItem]:
            for future in futures:
                yield from future.result()

        read = results()
        for item in found:
            yield next(read) if isinstance(item, FileJob) else item

    def _scan(
        self, root: Path, context: str, known: Mapping[str, str]
    ) -> Iterator[FileJob | SourceItem]:
        """Every article file under the folder, in path order: Unchanged when its size and
        modification time say so, a FileJob when it must be read, an error when it cannot.

        Plain strings and ``os.scandir``, not pathlib: on 10,000 unchanged files this loop
        is the whole run, and only a symbolic link needs resolving.
        """
        racy = time.time_ns() - int(RACY_SECONDS * 1e9)
        shown, base = str(self.root), str(root)
        for rel, entry in _article_files(base):
            try:
                if entry.is_symlink():
                    real = inside(Path(shown, rel), root)
                    info, real_rel = real.stat(), real.relative_to(root).as_posix()
                else:
                    info, real_rel = entry.stat(follow_symlinks=False), rel
            except OSError as exc:
                yield ArticleError(os.path.join(shown, rel), None, f"cannot read: {exc.strerror}")
                continue
            except OutsideFolder:
                yield ArticleError(
                    os.path.join(shown, rel), None,
                    "is a symbolic link to a file outside the source folder; not read",
                    "put the file itself in the folder, or remove the link",
                )  # fmt: skip
                continue
            if not S_ISREG(info.st_mode):
                continue
            key = f"{self.name}:{real_rel}"
            stamp = f"{context}:{info.st_size:x}:{info.st_mtime_ns:x}:"
            if info.st_mtime_ns < racy and known.get(key, "").startswith(stamp):
                yield Unchanged(key)
            else:
                path = os.path.join(shown, rel)
                yield FileJob(path, os.path.join(base, real_rel), key, stamp)


def _article_files(base: str) -> list[tuple[str, os.DirEntry[str]]]:
    """(path relative to ``base``, entry) of every file or link named like an article, in
    path order. Linked folders are not entered (their files may be anywhere); a folder that
    cannot be listed is skipped, as ``Path.rglob`` does."""
    found: list[tuple[str, os.DirEntry[str]]] = []
    folders = [""]
    while folders:
        rel = folders.pop()
        try:
            with os.scandir(os.path.join(base, rel)) as entries:
                for entry in entries:
                    name = entry.name
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(f"{rel}{name}/")
                    elif name[name.rfind(".") :].lower() in PARSERS and name[0] not in "._":
                        found.append((f"{rel}{name}", entry))
        except OSError:
            continue
    found.sort(key=lambda pair: pair[0].split("/"))
    return found


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
