"""Benchmark: a whole morning, through the real command line: plan the digests of 100,000
subscribers, then send them DKIM-signed.

Not a test. Run it with ``.venv/bin/python bench/e2e.py [--subscribers 100000]``.

A project folder gets 50 articles in 8 sections and 100,000 subscribers in 20 section
combinations (SQLite), a throwaway DKIM key and an ``[smtp]`` table pointing at the fast
asyncio sink (``bench/sink.py``) in its own process. Then ``publisher digest plan`` and
``publisher send`` run as subprocesses, exactly as an operator runs them, each timed with
its peak memory (the child's own maximum resident set). The sink's count proves every
message arrived. The baseline is the DKIM signer of earlier versions (dkimpy) alone, signing
a sample of the same messages: the old send path could go no faster than that.

The last line is ``bench e2e: <s> s for 100000 subscribers (plan <p> s, send <q> s,
<N> messages/s, peak <m> MiB)``; the target is under 100 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from command import PUBLISHER, run  # noqa: E402
from sink import start_sink  # noqa: E402

from publisher.models import Article  # noqa: E402
from publisher.store import Store  # noqa: E402
from publisher.store.schema import subscribers  # noqa: E402

SECTIONS = ["politics", "business", "sports", "technology", "national", "world", "health", "arts"]
ARTICLES = 50


def combinations(count: int) -> list[list[str] | None]:
    """``count`` distinct section choices, everything first (as readers tend to choose)."""
    found: list[list[str] | None] = [None]
    for size in (1, 2, 3):
        for start in range(len(SECTIONS)):
            if len(found) >= count:
                return found
            found.append([SECTIONS[(start + k) % len(SECTIONS)] for k in range(size)])
    return found


def project(folder: Path, port: int, count: int) -> Path:
    key = folder / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    (folder / "content").mkdir()
    config = folder / "config.toml"
    config.write_text(
        f"""
[site]
name = "The Daily Dispatch"
url = "https://news.example.com"
timezone = "Asia/Karachi"
secret_key = "bench-secret-0123456789abcdef"
postal_address = "The Daily Dispatch, 1 Press Lane, Karachi"

[database]
url = "sqlite:///bench.db"

[[sources]]
kind = "files"
name = "newsroom"
path = "content"

[digest]
from_address = "digest@news.example.com"

[dkim]
selector = "bench"
domain = "news.example.com"
key_path = "dkim.pem"

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"

[delivery]
connections = 4
batch_size = 500
""",
        encoding="utf-8",
    )
    now = datetime.now(UTC)
    with Store(f"sqlite:///{folder / 'bench.db'}") as store:
        rows = [
            {"email": f"reader{i}@example.com", "name": f"Reader {i}", "status": "active",
             "created_at": now, "last_article_id": 0, "frequency": "daily",
             "sections": None if c is None else json.dumps(c), "bounce_count": 0}
            for i, c in ((i, combinations(20)[i % 20]) for i in range(count))
        ]  # fmt: skip
        with store.engine.begin() as conn:
            conn.execute(insert(subscribers), rows)
        for i in range(ARTICLES):
            section = SECTIONS[i % len(SECTIONS)]
            article = Article(
                key=f"bench:{i}", source="newsroom",
                title=f"Story {i}: a headline about {section} that runs to a realistic length",
                link=f"https://news.example.com/{section}/story-{i}/",
                published=now - timedelta(minutes=11 * i), author="Desk Reporter",
                section=section, summary="A standfirst of two sentences. " * 3,
                content_html="<p>" + "Body text of the story. " * 60 + "</p>",
            )  # fmt: skip
            store.upsert_articles([(article, f"tag:news.example.com,2026:{i}")])
    return config


def dkimpy_rate(config: Path, samples: int = 300) -> float:
    """Messages per second dkimpy alone signs, on this run's own digest messages."""
    import dkim

    from publisher.config import load_settings
    from publisher.digest.compose import DigestComposer, make_renderer

    settings = load_settings(config, environ={})
    assert settings.dkim is not None
    key = settings.path(settings.dkim.key_path).read_bytes()
    with Store(settings.database_url) as store:
        composer = DigestComposer(settings, store, make_renderer(settings), signer=None)
        [edition] = [e for e in store.list_editions(50) if e.article_ids != []][:1]
        readers = list(store.subscribers_by_ids(range(1, samples + 1)).values())
        messages = [composer.message(edition, r, datetime.now(UTC)).data for r in readers]
    started = time.perf_counter()
    for data in messages:
        dkim.sign(data, b"bench", b"news.example.com", key, canonicalize=(b"relaxed", b"relaxed"))
    return len(messages) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    args = parser.parse_args()
    sink, port, counter = start_sink()
    folder = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    try:
        config = project(folder, port, args.subscribers)
        print(
            f"{args.subscribers:,} subscribers, {ARTICLES} articles, DKIM on, sink on port {port}"
        )
        plan_s, plan_mib, plan_out = run(
            [*PUBLISHER, "digest", "plan", "--config", str(config)], folder
        )
        print(f"publisher digest plan: {plan_s:.1f} s, peak {plan_mib:.0f} MiB")
        print("  " + "\n  ".join(plan_out.strip().splitlines()[:3]))
        send_s, send_mib, send_out = run([*PUBLISHER, "send", "--config", str(config)], folder)
        rate = args.subscribers / send_s
        print(f"publisher send: {send_s:.1f} s, {rate:,.0f} messages/s, peak {send_mib:.0f} MiB")
        print("  " + send_out.strip().splitlines()[-1])
        time.sleep(0.2)
        assert counter.value == args.subscribers, f"the sink got {counter.value}"
        total = plan_s + send_s
        baseline = dkimpy_rate(config)
        print(f"baseline: dkimpy alone signs {baseline:,.0f} messages/s of these digests "
              f"(the old send path could go no faster)")  # fmt: skip
        print(f"target: under 100 s ({'met' if total < 100 else 'missed'})")
        print(f"bench e2e: {total:.1f} s for {args.subscribers} subscribers (plan {plan_s:.1f} s, "
              f"send {send_s:.1f} s, {rate:.0f} messages/s, "
              f"peak {max(plan_mib, send_mib):.0f} MiB)")  # fmt: skip
    finally:
        sink.terminate()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
