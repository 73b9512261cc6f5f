"""A folder collected fast: parse workers give the same articles, unchanged files stay shut."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from publisher.config import load_settings
from publisher.jobs import open_store, run_collect
from publisher.sources import files
from publisher.store.schema import articles

from .conftest import ROOT, write_config

DAY_AGO_NS = 86_400 * 10**9


def folder_with_many(root: Path, count: int) -> Path:
    """The sample content, ``count`` generated Markdown files and two broken ones."""
    content = root / "content"
    shutil.copytree(ROOT / "content", content)
    for n in range(count):
        (content / "more" / f"{n % 7}").mkdir(parents=True, exist_ok=True)
        (content / "more" / f"{n % 7}" / f"story-{n:03d}.md").write_text(
            f"---\ntitle: Story {n} on the harbour\ndate: 2026-10-{1 + n % 28:02d}T08:00:00\n"
            f"author: Reporter {n % 5}\nsection: city\ntags: [harbour, t{n % 3}]\n---\n"
            f"Paragraph one of {n} with [a link](/r/{n}).\n\n*Emphasis* and `code` {n}.\n",
            encoding="utf-8",
        )
    (content / "more" / "broken.txt").write_text("A headline\n\nnot a dateline\nBody.\n")
    (content / "more" / "latin1.md").write_bytes("---\ntitle: Caf\xe9\n---\n".encode("latin-1"))
    return content


def stored(project: Path, processes: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Collect ``project`` with ``processes`` parse workers: every article's columns that do
    not depend on when it was stored, and the errors as the operator reads them."""
    config = write_config(project)
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace('path = "content"\n', f'path = "content"\nprocesses = {processes}\n')
    )
    settings = load_settings(config, environ={})
    with open_store(settings) as store:
        report = run_collect(settings, store)
        with store.engine.connect() as conn:
            rows = [
                dict(r) for r in conn.execute(select(articles).order_by(articles.c.key)).mappings()
            ]
    for row in rows:
        for column in ("id", "first_seen_at", "changed_at", "updated_at"):
            row.pop(column)
        row["source_hash"] = row["source_hash"].rsplit(":", 1)[1]  # the bytes' hash, not mtime
    return rows, [str(e) for e in report.errors]


def test_parallel_parse_gives_the_same_articles_as_serial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "PARSE_IN_PROCESSES_FROM", 10)
    started: list[int] = []
    real_pool = files.ProcessPoolExecutor

    def counting_pool(workers: int, **kwargs: Any) -> Any:
        started.append(workers)
        return real_pool(workers, **kwargs)

    monkeypatch.setattr(files, "ProcessPoolExecutor", counting_pool)
    for name in ("serial", "parallel"):
        folder_with_many(tmp_path / name, 120)
    serial, serial_errors = stored(tmp_path / "serial", 0)
    assert started == []
    parallel, parallel_errors = stored(tmp_path / "parallel", 2)
    assert started == [2]
    assert len(serial) == 126 and len(serial_errors) == 2
    assert parallel == serial
    # The errors crossed a process boundary whole: path, line and reason.
    assert [e.replace("/parallel/", "/") for e in parallel_errors] == [
        e.replace("/serial/", "/") for e in serial_errors
    ]
    assert any("broken.txt:3:" in e for e in parallel_errors)


def test_unchanged_files_are_not_opened(
    settings: Any, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = project / "content"
    for path in content.iterdir():  # written a day ago: their (size, mtime) can be trusted
        info = path.stat()
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns - DAY_AGO_NS))
    opened: list[str] = []
    real_read = files.read_file

    def spying_read(real: Path, limit: int = files.DEFAULT_MAX_BYTES) -> bytes:
        opened.append(real.name)
        return real_read(real, limit)

    monkeypatch.setattr(files, "read_file", spying_read)
    with open_store(settings) as store:
        first = run_collect(settings, store)
        assert len(opened) == first.added == 6
        opened.clear()
        again = run_collect(settings, store)
        assert again.unchanged == 6 and opened == []

        # Touched, not edited: read once, found the same, and then trusted again.
        seed = next(p for p in content.iterdir() if p.suffix == ".txt")
        os.utime(seed, ns=(0, seed.stat().st_mtime_ns + 10**9))
        touched = run_collect(settings, store)
        assert (touched.unchanged, touched.updated, opened) == (6, 0, [seed.name])
        opened.clear()
        assert run_collect(settings, store).unchanged == 6 and opened == []


def test_an_edit_within_the_same_clock_tick_is_seen(settings: Any, project: Path) -> None:
    """Same size, same mtime, new text: a file modified moments ago is read regardless."""
    path = project / "content" / "2024-09-19-ai-policy.md"
    os.utime(path)  # written just now (the copy kept the checkout's time)
    with open_store(settings) as store:
        run_collect(settings, store)
        info = path.stat()
        text = path.read_text(encoding="utf-8")
        edited = text.replace("Artificial", "Artificiel", 1)
        assert edited != text and len(edited) == len(text)
        path.write_text(edited, encoding="utf-8")
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
        assert path.stat().st_size == info.st_size
        report = run_collect(settings, store)
    assert report.updated == 1
