"""Benchmark: build every feed for 10,000 articles in 30 sections by 40 authors.

Wall times are what the summary line reports; CPU times are printed beside them because on a
shared machine other processes can steal the one core this benchmark is pinned to.

Prints the collection time, the full rebuild, the no-change rebuild (the fingerprint path),
and, as the baseline measured in the same run, a no-change rebuild without fingerprints (every
document built and compared byte for byte, as a naive writer would); then the time planning
takes (what the store reads to find each feed's items and archive months), which should
stay about the same with ``--articles 50000``. Pinned to one core.

    .venv/bin/python bench/feeds.py [--articles 10000]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from publisher.config import Settings, load_settings  # noqa: E402
from publisher.feeds import write_feeds  # noqa: E402
from publisher.feeds.plan import group_kinds  # noqa: E402
from publisher.jobs import open_store, run_collect  # noqa: E402
from publisher.store import Store  # noqa: E402
from publisher.store.schema import feed_state  # noqa: E402

WORDS = [
    "minister",
    "budget",
    "court",
    "river",
    "market",
    "storm",
    "league",
    "election",
    "senate",
    "harbour",
    "energy",
    "school",
    "hospital",
    "railway",
    "festival",
    "drought",
    "export",
    "bank",
    "vaccine",
    "border",
    "talks",
    "reform",
    "inflation",
    "satellite",
    "cricket",
    "museum",
    "police",
    "strike",
    "water",
    "power",
]


def generate(folder: Path, count: int, sections: int, authors: int) -> None:
    rng = random.Random(42)
    section_names = [f"section {i:02d}" for i in range(sections)]
    author_names = [f"Reporter {i:02d}" for i in range(authors)]
    folder.mkdir(parents=True)
    for n in range(count):
        words = rng.sample(WORDS, 7)
        title = " ".join(w.capitalize() for w in words)
        body = "\n\n".join(
            " ".join(rng.choice(WORDS) for _ in range(60)).capitalize() + "." for _ in range(6)
        )
        day = 1 + n % 28
        image = f"image: /images/{n}.jpg\n" if n % 3 == 0 else ""
        (folder / f"{n:05d}.md").write_text(
            f"---\ntitle: {title} {n}\ndate: 2026-10-{day:02d}T{n % 24:02d}:{n % 60:02d}:00\n"
            f"author: {author_names[n % authors]}\nsection: {section_names[n % sections]}\n"
            f"summary: {' '.join(words)}.\ntags: [{words[0]}, {words[1]}]\n{image}"
            f"highlights:\n  - {words[2]} first\n  - {words[3]} second\n---\n{body}\n",
            encoding="utf-8",
        )


def plan_once(settings: Settings, store: Store) -> tuple[float, int]:
    """Time what a rebuild reads from the store to plan (best of 5): it should follow what
    the feeds show, not the number of articles stored."""
    best, shown = float("inf"), 0
    for _ in range(5):
        start = time.perf_counter()
        groups = store.feed_groups(group_kinds(settings), settings.feeds.limit, "9999-12")
        heads = store.article_heads(list(dict.fromkeys(i for g in groups for i in g.article_ids)))
        best, shown = min(best, time.perf_counter() - start), len(heads)
    return best, shown


def count_files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=10_000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root / "content", args.articles, sections=30, authors=40)
        media = root / "media" / "images"
        media.mkdir(parents=True)
        for n in range(0, args.articles, 3):
            (media / f"{n}.jpg").write_bytes(b"\xff\xd8" + bytes(n % 5000))
        (root / "config.toml").write_text(
            '[site]\nname = "Bench News"\nurl = "https://bench.example.com"\ntimezone = "UTC"\n'
            '[[sources]]\nkind = "files"\nname = "bench"\npath = "content"\n'
            '[feeds]\ndir = "feeds"\nmedia_dir = "media"\nfetch_media = false\n'
        )
        settings = load_settings(root / "config.toml", environ={})
        with open_store(settings) as store:
            start = time.perf_counter()
            collected = run_collect(settings, store)
            collect_s = time.perf_counter() - start
            print(f"collect: {collected.added} articles in {collect_s:.2f} s "
                  f"({collected.added / collect_s:.0f} articles/s)")  # fmt: skip

            start, cpu = time.perf_counter(), time.process_time()
            full = write_feeds(settings, store)
            full_s, full_cpu = time.perf_counter() - start, time.process_time() - cpu
            print(f"full rebuild: {full.feeds} feeds, {len(full.written)} files written in "
                  f"{full_s:.3f} s ({full_cpu:.3f} s CPU)")  # fmt: skip

            start, cpu = time.perf_counter(), time.process_time()
            again = write_feeds(settings, store)
            nochange_s, nochange_cpu = time.perf_counter() - start, time.process_time() - cpu
            print(f"no-change rebuild: {len(again.written)} files written in {nochange_s:.3f} s "
                  f"({nochange_cpu:.3f} s CPU)")  # fmt: skip

            with store.engine.begin() as conn:
                conn.execute(feed_state.delete())
            start = time.perf_counter()
            naive = write_feeds(settings, store)
            naive_s = time.perf_counter() - start
            print(f"baseline no-change rebuild without fingerprints (build all, compare bytes): "
                  f"{naive_s:.3f} s, {len(naive.written)} files written")  # fmt: skip
            plan_s, shown = plan_once(settings, store)
            print(f"planning (each feed's newest items and archive months, their heads): "
                  f"{plan_s * 1000:.1f} ms for the {shown} articles the feeds show, out of "
                  f"{collected.added}")  # fmt: skip
            files = count_files(settings.path(settings.feeds.dir))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{files} files in the feeds folder; peak memory {peak:.0f} MiB")
        print(f"targets: full < 2 s ({'met' if full_s < 2 else 'MISSED'}), "
              f"no-change < 0.2 s with 0 files ({'met' if nochange_s < 0.2 and not again.written else 'MISSED'})")  # fmt: skip
        print(
            f"bench feeds: {full_s:.3f} s full rebuild, {nochange_s:.3f} s no-change, "
            f"{len(again.written)} files written"
        )


if __name__ == "__main__":
    main()
