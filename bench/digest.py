"""Benchmark: plan and build one edition's messages for 100,000 subscribers, on one core.

Not a test: it prints figures. Run it with ``.venv/bin/python bench/digest.py`` (``--subscribers
N`` for a quicker run). It builds a SQLite database of articles in 8 sections and subscribers
in 20 section combinations, then times, in one process pinned to one CPU:

* the real path: ``plan_editions`` (cut, variants, queue, cursors, archive) plus
  ``DigestSender.message`` for every queued delivery, the messages built in memory and dropped;
* the naive baseline: Jinja2 render + premailer + ``EmailMessage`` per subscriber;
* inlining once, but ``EmailMessage`` per subscriber;
* the cost of DKIM signing (2048-bit RSA) per message.

The last line reads ``bench digest: <N> messages/s (baseline <M> messages/s, peak <X> MiB)``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from publisher.config import Settings, parse_settings  # noqa: E402
from publisher.digest.compose import DigestComposer, make_renderer  # noqa: E402
from publisher.jobs import run_plan  # noqa: E402
from publisher.mail.dkim import Signer  # noqa: E402
from publisher.models import Article, Subscriber  # noqa: E402
from publisher.store import Store  # noqa: E402
from publisher.store.schema import subscribers as subscribers_table  # noqa: E402

SECTIONS = ["politics", "business", "sports", "technology", "national", "world", "health", "arts"]
NOW = datetime(2024, 9, 21, 2, 0, tzinfo=UTC)


def section_combinations(count: int) -> list[list[str] | None]:
    """``count`` distinct preferences: all sections, then pairs and triples."""
    combos: list[list[str] | None] = [None]
    for size in (1, 2, 3):
        for combo in itertools.combinations(SECTIONS, size):
            if len(combos) == count:
                return combos
            combos.append(list(combo))
    return combos


def setup(folder: Path, subscriber_count: int) -> tuple[Settings, Store]:
    settings = parse_settings(
        {
            "site": {
                "name": "The Daily Dispatch",
                "url": "https://news.example.com",
                "timezone": "Asia/Karachi",
                "secret_key": "bench-secret-0123456789",
                "postal_address": "The Daily Dispatch, 1 Press Lane, Karachi",
            },
            "database": {"url": f"sqlite:///{folder / 'bench.db'}"},
            "sources": [
                {"kind": "files", "name": "bench", "path": "."}
            ],  # articles stored directly
            "digest": {"from_address": "digest@news.example.com", "archive_dir": "archive"},
        },
        folder,
        "bench",
        environ={},
    )
    store = Store(settings.database_url)
    base = NOW - timedelta(hours=20)
    for i in range(48):
        section = SECTIONS[i % len(SECTIONS)]
        article = Article(
            key=f"bench:{i}",
            source="bench",
            title=f"Story {i}: a headline about {section} that runs to a realistic length",
            link=f"https://news.example.com/{section}/story-{i}/",
            published=base + timedelta(minutes=17 * i),
            author="Desk Reporter",
            section=section,
            summary="A standfirst of two sentences that says what happened. " * 2,
            highlights=["First highlight of the story.", "Second highlight, a bit longer."],
            image_url=f"https://news.example.com/img/{i}.jpg" if i % 3 == 0 else "",
            image_alt="A photograph",
        )
        store.upsert_articles([(article, f"tag:news.example.com,2024:{i}")])
    combos = section_combinations(20)
    rows = [
        {
            "email": f"reader{i}@example.com",
            "name": f"Reader Number {i}" if i % 5 else "Zoë Ünal",
            "status": "active",
            "created_at": base,
            "last_article_id": 0,
            "frequency": "daily",
            "sections": None
            if combos[i % 20] is None
            else __import__("json").dumps(combos[i % 20]),
            "bounce_count": 0,
        }
        for i in range(subscriber_count)
    ]
    with store.engine.begin() as conn:
        conn.execute(insert(subscribers_table), rows)
    return settings, store


def real_path(settings: Settings, store: Store) -> tuple[int, int, float, float]:
    """(messages, bytes, plan seconds, total seconds) for plan + build of every message."""
    start = time.perf_counter()
    planned = run_plan(settings, store, NOW)  # plan, then archive the new editions
    plan_seconds = time.perf_counter() - start
    sender = DigestComposer(settings, store, make_renderer(settings))
    count = size = 0
    for plan in planned:
        assert plan.edition is not None
        ids = plan.subscriber_ids
        for offset in range(0, len(ids), 5000):
            batch = store.subscribers_by_ids(ids[offset : offset + 5000])
            for sid in ids[offset : offset + 5000]:
                message = sender.message(plan.edition, batch[sid], NOW)
                size += len(message.data)
                count += 1
    return count, size, plan_seconds, time.perf_counter() - start


def naive(
    settings: Settings, store: Store, subscribers: list[Subscriber], inline_once: bool
) -> float:
    """Messages per second building each with EmailMessage (and rendering each, unless once)."""
    edition = store.list_editions(1)[0]
    sender = DigestComposer(settings, store, make_renderer(settings))
    renderer = make_renderer(settings)
    once = renderer.render_digest(sender.context(edition), settings.digest.subject)
    start = time.perf_counter()
    for subscriber in subscribers:
        rendered = (
            once
            if inline_once
            else renderer.render_digest(sender.context(edition), settings.digest.subject)
        )
        values = sender.personal_values(subscriber, NOW)
        html, text = rendered.personalise(values)
        # The general path: one EmailMessage per recipient, encoded by the stdlib.
        msg = EmailMessage(policy=SMTP.clone(max_line_length=998))
        msg["Subject"] = rendered.subject
        msg["From"] = Address(settings.site.name, addr_spec=settings.digest.from_address)
        msg["To"] = Address(subscriber.name, addr_spec=subscriber.email)
        msg["Date"] = format_datetime(NOW)
        msg["Message-ID"] = f"<digest.{edition.id}.{subscriber.id}@news.example.com>"
        msg["List-Unsubscribe"] = f"<{values['unsubscribe_url']}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
        msg.as_bytes()
    return len(subscribers) / (time.perf_counter() - start)


def dkim_cost(settings: Settings, store: Store, samples: int) -> float:
    """Milliseconds DKIM signing adds to one message."""
    with tempfile.TemporaryDirectory() as tmp:  # a throwaway key: none lives in the repo
        key_path = Path(tmp) / "bench.pem"
        subprocess.run(
            ["openssl", "genrsa", "-out", str(key_path), "2048"], check=True, capture_output=True
        )
        key = key_path.read_bytes()
    signer = Signer("bench", "news.example.com", key)
    edition = store.list_editions(1)[0]
    sender = DigestComposer(settings, store, make_renderer(settings))
    reader = Subscriber(id=1, email="reader1@example.com", name="Reader")
    data = sender.message(edition, reader, NOW).data
    start = time.perf_counter()
    for _ in range(samples):
        signer.sign(data)
    return (time.perf_counter() - start) / samples * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=15, help="subscribers for the naive baseline")
    parser.add_argument("--inline-once", type=int, default=300)
    parser.add_argument("--dkim", type=int, default=100, help="messages to sign for the DKIM cost")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    with tempfile.TemporaryDirectory() as tmp:
        settings, store = setup(Path(tmp), args.subscribers)
        count, size, plan_s, total_s = real_path(settings, store)
        rate = count / total_s
        print(
            f"plan: {plan_s:.2f} s for {args.subscribers} subscribers, {len(store.list_editions(100))} variants"
        )
        print(f"build only: {count / (total_s - plan_s):.0f} messages/s")
        print(
            f"plan + build: {count} messages ({size / count / 1024:.1f} KiB each) in "
            f"{total_s:.2f} s = {rate:.0f} messages/s"
        )
        sample = list(store.subscribers_by_ids(range(1, args.inline_once + 1)).values())
        baseline = naive(settings, store, sample[: args.naive], inline_once=False)
        print(f"baseline, render + premailer + EmailMessage each: {baseline:.1f} messages/s")
        once = naive(settings, store, sample, inline_once=True)
        print(f"inline once, EmailMessage each: {once:.0f} messages/s")
        signing = dkim_cost(settings, store, args.dkim)
        with_dkim = 1000 / (1000 / rate + signing)
        print(
            f"DKIM (rsa-sha256, 2048 bit): {signing:.2f} ms a message; with DKIM ~{with_dkim:.0f} messages/s"
        )
        store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"bench digest: {rate:.0f} messages/s (baseline {baseline:.1f} messages/s, peak {peak:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
