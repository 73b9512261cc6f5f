"""The SQLite database file on disk: where a URL puts it, and whether it can be written.

Apart from the engine (``base.py``) so that the standard-library path (``lite.py``) can ask
too, without importing SQLAlchemy.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import StoreError

# A plain SQLite file URL (what publisher writes and documents); anything fancier, such as
# query options or escapes, goes through SQLAlchemy, which knows every form.
_PLAIN_SQLITE = re.compile(r"sqlite(?:\+pysqlite)?:///([^?%#]+)")


def plain_sqlite_path(url: str) -> Path | None:
    """The file of a plain ``sqlite:///`` URL; None for every other URL."""
    found = _PLAIN_SQLITE.fullmatch(url)
    if found is None or found.group(1) == ":memory:":
        return None
    return Path(found.group(1))


SIDE_FILES = ("-wal", "-shm", "-journal")


def check_sqlite_writable(path: Path) -> None:
    """Refuse, naming the file, a database whose file, side files or folder cannot be written.

    Checked before SQLite touches anything, so a read-only database never leaves a read-only
    ``-shm`` behind (SQLite creates it with the database's own permissions).
    """
    folder = path.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(
            f"the database folder {folder} is not writable",
            f"SQLite writes its side files (-wal, -shm) next to the database: make {folder} "
            "writable by the user running publisher",
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise StoreError(
            f"the database file {path} is read-only",
            f"make it writable by the user running publisher (chmod u+w {path})",
        )
    for suffix in SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists() and not os.access(side, os.W_OK):
            raise StoreError(
                f"the SQLite side file {side} is read-only (left by a run on a read-only "
                "database?); every write fails until it is fixed",
                f"stop every publisher process, then make it writable (chmod u+w {side}) or "
                "delete it",
            )
