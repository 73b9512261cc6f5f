"""Helpers for the feed and sitemap source tests: a config naming upstream sources, one poll,
the articles and state a source left in the store, and small feeds built on the fly."""

from __future__ import annotations

import json
from datetime import datetime
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

from sqlalchemy import select

from publisher.collect import CollectReport, collect
from publisher.config import Settings, load_settings
from publisher.models import Article, SourceState
from publisher.sources import build_sources
from publisher.store import Store
from publisher.store.schema import articles


def source(kind: str, name: str, url: str, **keys: Any) -> str:
    """One ``[[sources]]`` table in TOML."""
    lines = ["[[sources]]", f'kind = "{kind}"', f'name = "{name}"', f'url = "{url}"']
    lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


def config(root: Path, *tables: str) -> Settings:
    (root / "config.toml").write_text(
        '[site]\nname = "The Daily Dispatch"\nurl = "https://news.example.com"\n'
        'timezone = "Asia/Karachi"\n\n[database]\nurl = "sqlite:///data/publisher.db"\n\n'
        + "\n".join(tables),
        encoding="utf-8",
    )
    return load_settings(root / "config.toml", environ={})


def poll(settings: Settings, store: Store, now: datetime | None = None) -> CollectReport:
    """One collection run, as ``publisher collect`` does it, at ``now``."""
    return collect(build_sources(settings, store, now), store, settings.site.domain)


def stored(store: Store, source_name: str) -> dict[str, Article]:
    """key -> article, for every article from one source."""
    with store.engine.connect() as conn:
        ids = conn.execute(select(articles.c.id).where(articles.c.source == source_name))
        found = store.articles_by_ids([int(i) for i in ids.scalars()])
    return {a.key: a for a in found}


def state_of(store: Store, name: str) -> SourceState:
    return next(s for s in store.source_states() if s.name == name)


def rss(title: str, items: list[dict[str, Any]]) -> bytes:
    """A small RSS 2.0 feed; each item: guid, link, title, body, at (datetime or None)."""
    entries = []
    for item in items:
        parts = [f"<title>{escape(item['title'])}</title>"]
        if item.get("link"):
            parts.append(f"<link>{escape(item['link'])}</link>")
        if item.get("guid"):
            parts.append(f'<guid isPermaLink="false">{escape(item["guid"])}</guid>')
        if item.get("at") is not None:
            parts.append(f"<pubDate>{format_datetime(item['at'])}</pubDate>")
        parts.append(f"<description>{escape(item.get('body', 'Text.'))}</description>")
        entries.append("<item>" + "".join(parts) + "</item>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://upstream.example/</link>"
        f"<description>Test feed</description>{''.join(entries)}</channel></rss>"
    ).encode()
