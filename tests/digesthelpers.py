"""Helpers for digest tests: long generated articles, a planned edition, the parts of a message.

The digests built here go through the real planner and composer on a real SQLite store, so a
test of "every due article is in the digest" means what the reader would get.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

from publisher.config import Settings
from publisher.digest.compose import DigestComposer, make_renderer
from publisher.jobs import run_plan
from publisher.models import Article, Edition, Subscriber
from publisher.store import Store

NOW = datetime(2024, 9, 20, 2, 0, tzinfo=UTC)  # 07:00 in Karachi, the sample site's zone
SECTIONS = ["politics", "business", "national", "sports", "technology", "world", "health"]
IMAGES = ["/images/2024/09/floods.png", "/images/2024/09/stock-exchange.png"]
URDU_TITLES = [
    "قومی اسمبلی میں ضمنی بجٹ پر بحث کا آغاز، حزبِ اختلاف کا واک آؤٹ",
    "کراچی میں مون سون کی بارشوں سے نشیبی علاقے زیرِ آب آ گئے",
    "پاکستان نے راولپنڈی میں سیریز جیت لی",
]
URDU_TEXT = (
    "حکومت نے جمعہ کے روز ضمنی بجٹ پیش کیا جس پر ایوان میں طویل بحث ہوئی اور حزبِ اختلاف "
    "کے ارکان نے ترقیاتی اخراجات میں کمی کے خلاف احتجاج کیا۔ "  # noqa: RUF001 (Urdu full stop)
)


def long_article(
    i: int, *, language: str = "en", site_url: str = "https://news.example.com"
) -> Article:
    """An article as long as real ones get: a long headline, standfirst and highlights, a
    body of about 1,100 words, and a lead image on every third one."""
    section = SECTIONS[i % len(SECTIONS)]
    if language == "ur":
        title = f"{URDU_TITLES[i % len(URDU_TITLES)]} ({i})"
        summary = URDU_TEXT * 2
        highlights = [URDU_TEXT, URDU_TEXT[:60]]
        body = f"<p>{URDU_TEXT * 40}</p>"
    else:
        title = (
            f"Story {i}: Provincial Assembly Debates a Long-Awaited Reform of {section.title()} "
            "Rules After Months of Consultation"
        )
        summary = (
            "Lawmakers spent the day on a package that would change how the province runs its "
            f"{section} affairs, with amendments from every party and a vote expected next week "
            "after a committee reports on the costs."
        )
        highlights = [
            "The package bundles nine separate bills that have waited for a vote since spring.",
            "Opposition members tabled forty amendments, most of them on oversight and audits.",
            "A committee will report on the costs before the final vote next Thursday.",
            "Business groups and unions both asked for a longer consultation period.",
        ]
        body = "<p>" + "The debate went on late into the evening as members argued. " * 100 + "</p>"
    image = IMAGES[i % 2] if i % 3 == 0 else ""
    return Article(
        key=f"generated:{language}:{i}",
        source="generated",
        title=title,
        link=f"{site_url}/{section}/story-{language}-{i}/",
        published=NOW - timedelta(hours=20) + timedelta(minutes=11 * i),
        author=f"Desk Reporter {i % 5}",
        section=section,
        summary=summary,
        content_html=body,
        highlights=highlights,
        image_url=f"{site_url}{image}" if image else "",
        image_alt="Residents wade through a flooded street" if image else "",
        image_credit="Dispatch photo" if image else "",
    )


def add_articles(store: Store, count: int, *, language: str = "en", start: int = 0) -> None:
    store.upsert_articles(
        [
            (long_article(i, language=language), f"tag:news.example.com,2024:{language}:{i}")
            for i in range(start, start + count)
        ]
    )


@dataclass
class Planned:
    """One planned edition and the reader it was queued for."""

    edition: Edition
    reader: Subscriber
    composer: DigestComposer


def plan_for(settings: Settings, store: Store, reader: Subscriber) -> Planned:
    """Plan at NOW (real planner, real cursors) and return the reader's edition."""
    planned = [p for p in run_plan(settings, store, NOW) if reader.id in p.subscriber_ids]
    assert len(planned) == 1 and planned[0].edition is not None
    return Planned(
        planned[0].edition, reader, DigestComposer(settings, store, make_renderer(settings))
    )


def parse(data: bytes) -> EmailMessage:
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def parts(data: bytes) -> tuple[str, str]:
    """(text, html) of a message, decoded."""
    msg = parse(data)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return text.replace("\r\n", "\n"), html.replace("\r\n", "\n")
