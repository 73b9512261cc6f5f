"""Benchmark: collect a folder of 10,000 Markdown files, and 200 upstream feeds of 50 items.

Not a test: it prints figures. ``.venv/bin/python bench/collect.py [--files 10000]
[--feeds 200 --items 50]``.

The folder (``bench_files``) is collected by the real CLI, ``publisher collect`` as a
subprocess, start-up included: first cold (every file new: parsed on every core, stored in
batches), then with nothing changed (files skipped by size and modification time, none
read). The baseline, measured in the same run, is the cold collect with ``processes = 0``:
every file parsed in the collecting process, one after another.

For the feeds (``bench_feeds``) a child process serves them (RSS 2.0 with ETags; 304 to a matching If-None-Match), so
the server does not compete with the collector for the interpreter lock. Then, in one run:

* the baseline: the same feeds fetched one after another without conditional GET and parsed
  with feedparser, as a naive poller re-polls them;
* the first poll: ``publisher collect`` with every feed a new ``kind = "feed"`` source
  (fetch, parse, backfill window, sanitise, store: every item is new);
* the re-poll: ``publisher collect`` again, every feed answering 304 Not Modified.

The last line reads ``bench collect: <s> s cold, <t> s no-change for 10000 files, <u> s 200
feeds re-polled`` (targets: 10 s, 0.5 s and 2 s).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import multiprocessing
import resource
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402
from command import PUBLISHER, run  # noqa: E402

from feeds import generate  # noqa: E402  (bench/feeds.py: the same articles it builds feeds of)
from publisher.config import load_settings  # noqa: E402
from publisher.jobs import open_store, run_collect  # noqa: E402

WORDS = [
    "harbour",
    "council",
    "ferry",
    "storm",
    "budget",
    "school",
    "festival",
    "market",
    "bridge",
    "library",
    "rail",
    "strike",
    "museum",
    "election",
    "river",
    "clinic",
    "stadium",
    "tram",
    "tide",
    "lighthouse",
]


def feed_body(n: int, items: int, now: datetime) -> bytes:
    """Feed ``n``: ``items`` items within the last day, a paragraph or three each."""
    entries = []
    for i in range(items):
        words = [WORDS[(n * 7 + i * 3 + k) % len(WORDS)] for k in range(8)]
        title = " ".join(words[:6]).capitalize() + f" ({n}-{i})"
        body = "".join(
            f"<p>{' '.join(words)} {' '.join(reversed(words))} {k}.</p>" for k in range(3)
        )
        entries.append(
            f"<item><title>{title}</title><link>http://upstream.example/{n}/{i}</link>"
            f'<guid isPermaLink="false">feed-{n}-item-{i}</guid>'
            f"<pubDate>{format_datetime(now - timedelta(minutes=10 * i + n))}</pubDate>"
            f"<category>section {n % 12}</category><description>{words[0]} and {words[1]}."
            f"</description><content:encoded><![CDATA[{body}]]></content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>Upstream {n}</title><link>http://upstream.example/{n}/</link>"
        f"<description>Feed {n}</description>{''.join(entries)}</channel></rss>"
    ).encode()


def serve(feeds: int, items: int, now: datetime, ready: Any, port: Any, answers: Any) -> None:
    """The upstream server (runs in a child process until terminated)."""
    bodies = {f"/feeds/{n}.xml": feed_body(n, items, now) for n in range(feeds)}
    tags = {path: '"' + hashlib.sha256(b).hexdigest()[:16] + '"' for path, b in bodies.items()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies.get(self.path)
            if body is None:
                self.send_error(404)
                return
            if self.headers.get("If-None-Match") == tags[self.path]:
                with answers.get_lock():
                    answers[1] += 1
                self.send_response(304)
                self.send_header("ETag", tags[self.path])
                self.end_headers()
                return
            with answers.get_lock():
                answers[0] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", tags[self.path])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 256  # the default 5 drops connects: a 1 s SYN retry, not ours
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    port.value = server.server_address[1]
    ready.set()
    server.serve_forever()


def naive_repoll(base: str, feeds: int) -> tuple[float, int]:
    """Fetch every feed in turn, no validators, and parse it: (seconds, items parsed)."""
    start, parsed = time.perf_counter(), 0
    for n in range(feeds):
        with urllib.request.urlopen(f"{base}/feeds/{n}.xml", timeout=30) as response:
            parsed += len(feedparser.parse(io.BytesIO(response.read())).entries)
    return time.perf_counter() - start, parsed


def bench_feeds(root: Path, feeds: int, items: int) -> tuple[float, float]:
    """The feed figures; returns (first poll, re-poll) in seconds."""
    ready, port = multiprocessing.Event(), multiprocessing.Value("i", 0)
    answers = multiprocessing.Array("i", 2)  # how many 200s and 304s the server sent
    now = datetime.now(UTC).replace(microsecond=0)
    server = multiprocessing.Process(target=serve, args=(feeds, items, now, ready, port, answers))
    server.start()
    try:
        if not ready.wait(60):
            raise SystemExit("the upstream server did not start")
        base = f"http://127.0.0.1:{port.value}"
        tables = "".join(
            f'[[sources]]\nkind = "feed"\nname = "up{n}"\nurl = "{base}/feeds/{n}.xml"\n'
            for n in range(feeds)
        )
        (root / "config.toml").write_text(
            '[site]\nname = "Bench News"\nurl = "https://bench.example.com"\n'
            f'[database]\nurl = "sqlite:///{root}/bench.db"\n{tables}',
            encoding="utf-8",
        )
        settings = load_settings(root / "config.toml", environ={})

        naive_s, parsed = naive_repoll(base, feeds)
        print(f"baseline: {feeds} feeds fetched one by one without conditional GET and parsed "
              f"({parsed:,} items): {naive_s:.2f} s")  # fmt: skip

        with open_store(settings) as store:
            start = time.perf_counter()
            first = run_collect(settings, store)
            first_s = time.perf_counter() - start
            print(f"first poll: {feeds} feeds, {first.added:,} articles stored, "
                  f"{len(first.errors)} errors in {first_s:.2f} s "
                  f"({first.added / first_s:.0f} articles/s)")  # fmt: skip

            answers[0] = answers[1] = 0
            start, cpu = time.perf_counter(), time.process_time()
            again = run_collect(settings, store)
            again_s, again_cpu = time.perf_counter() - start, time.process_time() - cpu
            print(f"re-poll: {feeds} feeds, the server answered {answers[1]} x 304 and "
                  f"{answers[0]} x 200, "
                  f"{again.added} added, {len(again.errors)} errors in {again_s:.3f} s "
                  f"({again_cpu:.3f} s CPU); {naive_s / again_s:.0f}x faster than the baseline")  # fmt: skip
        print(f"target: re-poll < 2 s ({'met' if again_s < 2 else 'MISSED'})")
        return first_s, again_s
    finally:
        server.terminate()
        server.join()


def timed_collect(config: Path) -> tuple[float, float, str]:
    """``publisher collect`` as a subprocess: (wall seconds, its peak MiB, its last line)."""
    took, mib, output = run([*PUBLISHER, "collect", "--config", str(config)])
    return took, mib, output.strip().splitlines()[-1]


def bench_files(root: Path, count: int) -> tuple[float, float]:
    """The folder figures; returns (cold, no-change) in seconds."""
    generate(root / "content", count, sections=30, authors=40)
    configs = []
    for name, extra in (("serial", "processes = 0\n"), ("parallel", "")):
        config = root / f"{name}.toml"
        config.write_text(
            '[site]\nname = "Bench News"\nurl = "https://bench.example.com"\n'
            f'[database]\nurl = "sqlite:///{root}/{name}.db"\n'
            f'[[sources]]\nkind = "files"\nname = "bench"\npath = "content"\n{extra}',
            encoding="utf-8",
        )
        configs.append(config)
    serial_s, _, _ = timed_collect(configs[0])
    print(f"baseline: {count:,} files cold, parsed in the collecting process: {serial_s:.2f} s")
    cold_s, cold_mib, said = timed_collect(configs[1])
    print(f"cold: {count:,} files in {cold_s:.2f} s ({count / cold_s:.0f} files/s; "
          f"{serial_s / cold_s:.1f}x the baseline; peak {cold_mib:.0f} MiB): {said}")  # fmt: skip
    # Best of 5: a run this short is at the mercy of whatever else the machine does.
    again_s, _, said = min(timed_collect(configs[1]) for _ in range(5))
    print(f"no-change: {count:,} files in {again_s:.3f} s (best of 5): {said}")
    print(f"targets: cold < 10 s ({'met' if cold_s < 10 else 'MISSED'}), "
          f"no-change < 0.5 s ({'met' if again_s < 0.5 else 'MISSED'})")  # fmt: skip
    return cold_s, again_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cold_s, nochange_s = bench_files(Path(tmp), args.files)
    with tempfile.TemporaryDirectory() as tmp:
        _, repoll_s = bench_feeds(Path(tmp), args.feeds, args.items)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process (the feeds part) {peak:.0f} MiB")
    print(
        f"bench collect: {cold_s:.2f} s cold, {nochange_s:.3f} s no-change for {args.files} "
        f"files, {repoll_s:.3f} s {args.feeds} feeds re-polled"
    )


if __name__ == "__main__":
    main()
