"""Write files so a reader never sees half of one: temp file, fsync, rename; skip if unchanged."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> bool:
    """Replace ``path`` with ``data`` atomically; return False (and touch nothing) if unchanged.

    The temp file lives in the same folder so the rename cannot cross file systems, and it is
    fsynced first so a crash leaves either the old file or the new one, never half of either.
    """
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


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
