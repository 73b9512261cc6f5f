"""A SQLite database or side file that cannot be written is refused with a hint naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from .unprivileged import give_away, own_project, run_publisher

__all__ = ["own_project"]  # the fixture, imported so pytest finds it
pytestmark = pytest.mark.slow  # real processes, as an unprivileged user


def add_article(project: Path, name: str) -> None:
    """A new article, so the next collect has something to write."""
    path = project / "content" / f"{name}.md"
    path.write_text(f"---\ntitle: {name}\ndate: 2024-10-01\n---\nBody.\n", encoding="utf-8")
    give_away(path)


def test_read_only_database_is_named_and_leaves_nothing_behind(own_project: Path) -> None:
    first = run_publisher(own_project, "collect")
    assert first.returncode == 0, first.stderr
    db = own_project / "data" / "publisher.db"
    db.chmod(0o444)
    add_article(own_project, "while-read-only")
    refused = run_publisher(own_project, "collect")
    assert refused.returncode == 1
    assert f"the database file {db} is read-only" in refused.stderr, refused.stderr
    assert f"chmod u+w {db}" in refused.stderr
    # Nothing SQLite would create with the database's read-only mode was left behind ...
    assert sorted(p.name for p in db.parent.iterdir()) == ["publisher.db"]
    # ... so once the permissions are fixed, writes work again.
    db.chmod(0o644)
    again = run_publisher(own_project, "collect")
    assert again.returncode == 0, again.stderr
    assert "1 added" in again.stdout


def test_read_only_side_file_is_named(own_project: Path) -> None:
    assert run_publisher(own_project, "collect").returncode == 0
    shm = own_project / "data" / "publisher.db-shm"
    shm.write_bytes(b"")  # as a run on a read-only database leaves it
    shm.chmod(0o444)
    give_away(shm)
    add_article(own_project, "with-a-stray-shm")
    refused = run_publisher(own_project, "collect")
    assert refused.returncode == 1
    assert f"side file {shm} is read-only" in refused.stderr, refused.stderr
    shm.unlink()
    assert run_publisher(own_project, "collect").returncode == 0
