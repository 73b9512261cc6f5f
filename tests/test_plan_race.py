"""Two planners at once: whoever loses the race queues nothing, "nothing new" notes included.

The interleaving the tester hit is replayed exactly: planner B reads who is due, then planner A
plans and commits everything, then B tries to queue what it read. With ``when_empty = "note"``
and nothing new, A moves nobody's cursor (old value equals new), so only the due time can tell
B it is too late.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from publisher.config import load_settings
from publisher.digest.plan import plan_editions
from publisher.errors import StoreError
from publisher.jobs import open_store, run_collect
from publisher.store import Store

from .conftest import write_config
from .smtp_faults import add_subscribers

COUNT = 200


class LateStore:
    """A store whose ``queue_editions`` first lets another planner run to its end."""

    def __init__(self, store: Store, other: Any) -> None:
        self.store = store
        self.other = other

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def queue_editions(self, *args: Any) -> Any:
        self.other()
        return self.store.queue_editions(*args)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_planners_queue_one_note_each(
    project: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    env = (
        {"PUBLISHER_DATABASE_URL": request.getfixturevalue("pg_url")} if backend != "sqlite" else {}
    )
    settings = load_settings(write_config(project, extra='when_empty = "note"'), environ=env)
    now = datetime.now(UTC)
    with open_store(settings) as store:
        run_collect(settings, store)
        newest = store.cut_article_id()
        add_subscribers(store, (f"r{i}@example.com" for i in range(COUNT)), newest)

        def planner_a() -> None:
            with open_store(settings) as own:
                [note] = plan_editions(settings, own, now)
                assert note.article_count == 0 and len(note.subscriber_ids) == COUNT

        with pytest.raises(StoreError, match="another planner"):
            plan_editions(settings, LateStore(store, planner_a), now)  # type: ignore[arg-type]
        assert store.delivery_counts() == {"queued": COUNT}  # one note each, not two
        assert len(store.list_editions()) == 1
