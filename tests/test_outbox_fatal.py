"""An outbox that cannot be written stops the run with exit code 1 and leaves the rows queued."""

from __future__ import annotations

from pathlib import Path

import pytest

from .unprivileged import give_away, own_project, run_publisher

__all__ = ["own_project"]  # the fixture, imported so pytest finds it
pytestmark = pytest.mark.slow  # real processes, as an unprivileged user


def test_unwritable_outbox_stops_the_run_and_leaves_rows_queued(own_project: Path) -> None:
    for address in ("ann@example.com", "bob@example.com", "cy@example.com"):
        assert run_publisher(own_project, "subscribers", "add", address).returncode == 0
    assert run_publisher(own_project, "collect").returncode == 0
    assert run_publisher(own_project, "digest", "plan").returncode == 0
    outbox = own_project / "outbox"
    for sub in ("tmp", "new", "cur"):
        (outbox / sub).mkdir(parents=True)
    give_away(outbox)
    (outbox / "tmp").chmod(0o555)  # where a maildir writes each message first
    for _ in range(3):  # every run stops; none uses up the rows' attempts
        result = run_publisher(own_project, "send")
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"cannot write to the outbox {outbox}" in result.stderr
        assert "hint: make [digest] outbox writable" in result.stderr
    shown = run_publisher(own_project, "deliveries")
    assert "deliveries (all editions): 3 queued" in shown.stdout, shown.stdout
    (outbox / "tmp").chmod(0o755)
    done = run_publisher(own_project, "send")
    assert done.returncode == 0, done.stderr
    assert "3 sent" in done.stdout
    assert len(list((outbox / "new").iterdir())) == 3
