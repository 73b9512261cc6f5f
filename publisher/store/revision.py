"""Which schema revision the code expects, read from the migration scripts themselves.

Apart from the rest of the store so that the standard-library store (``lite.py``) can ask
without importing SQLAlchemy or Alembic.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION = re.compile(r'^(down_revision|revision)\s*=\s*["\']([^"\']+)["\']', re.M)


@functools.cache
def script_head() -> str:
    """The newest migration, read from the scripts' own ``revision``/``down_revision`` lines
    (the one no other script names as its parent), without importing Alembic."""
    revisions: dict[str, str] = {}
    for script in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((k, v) for k, v in _REVISION.findall(script.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions[found["revision"]] = found.get("down_revision", "")
    heads = set(revisions) - set(revisions.values())
    return heads.pop() if len(heads) == 1 else ""
