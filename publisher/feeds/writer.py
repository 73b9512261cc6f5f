"""Feed file housekeeping: writes on a few threads, and removing feeds no longer wanted."""

from __future__ import annotations

import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ..atomicfile import atomic_write


def remove_stale_groups(root: Path, kind: str, keep: set[str]) -> list[Path]:
    """Delete the folders of sections or authors that no longer have articles."""
    removed: list[Path] = []
    parent = root / kind
    if not parent.is_dir():
        return removed
    for folder in sorted(parent.iterdir()):
        if folder.is_dir() and folder.name not in keep:
            shutil.rmtree(folder)
            removed.append(folder)
    return removed


class BackgroundWriter:
    """Writes files on a few threads while the caller builds the next feed.

    Each write still is atomic and fsynced; the threads only let the fsync waits overlap with
    building (fsync releases the GIL), which takes them off the critical path of a rebuild.
    """

    def __init__(self, workers: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="feed-writer")
        self._pending: list[tuple[Path, str, Future[bool]]] = []

    def submit(self, path: Path, data: bytes, url: str = "") -> None:
        self._pending.append((path, url, self._pool.submit(atomic_write, path, data)))

    def finish(self) -> list[tuple[Path, str, bool]]:
        """Wait for every write; (path, url, changed) for each. Re-raises the first failure
        after all writes have ended, so no temp file is left behind."""
        self._pool.shutdown(wait=True)
        results: list[tuple[Path, str, bool]] = []
        failure: BaseException | None = None
        for path, url, future in self._pending:
            try:
                results.append((path, url, future.result()))
            except BaseException as exc:
                failure = failure or exc
                if isinstance(exc, OSError):
                    exc.filename = str(path)
        if failure is not None:
            raise failure
        return results
