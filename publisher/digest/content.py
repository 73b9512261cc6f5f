"""What a digest says, decided without templates: section order and names, dates, the subject,
the preheader, reading times and the "why you get this" line.

Kept free of Jinja2 and premailer so each rule is a plain function that a test can call, and so
the per-recipient rules (``reason``) and the per-zone ones (``edition_labels``, ``fit_subject``)
are cheap enough to run for every message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..models import Article

# Scripts written right to left (primary language subtags): Arabic, Urdu, Hebrew, Persian,
# Pashto, Sindhi, Yiddish, Central Kurdish, Dhivehi, Uyghur (and Hebrew's old code "iw").
RTL_LANGUAGES = frozenset({"ar", "ur", "he", "iw", "fa", "ps", "sd", "yi", "ckb", "dv", "ug"})
SUBJECT_LIMIT = 60  # most desktop clients show this much; phones about 40
MIN_HEADLINE = 20  # below this a shortened headline says too little: keep it whole instead
WORDS_PER_MINUTE = 230
OTHER_SECTION = "More news"
_TAGS = re.compile(r"<[^>]+>")
_METHODS = {"web": " through our website", "import": " (imported from our earlier mailing list)"}


def text_direction(language: str) -> str:
    """``rtl`` for a language written right to left (``ur``, ``ar-EG``...), else ``ltr``."""
    primary = language.strip().replace("_", "-").split("-", 1)[0].lower()
    return "rtl" if primary in RTL_LANGUAGES else "ltr"


@dataclass
class SectionBlock:
    """One section heading, its articles shown in full, then those shown as headline links."""

    name: str
    articles: list[Article]
    links: list[Article] = field(default_factory=list)


def display_name(section: str, names: Mapping[str, str]) -> str:
    """The configured name of a section, else its key with a capital ("business" -> "Business")."""
    key = section.strip()
    if not key:
        return OTHER_SECTION
    configured = names.get(key.casefold())
    if configured:
        return configured
    return key[0].upper() + key[1:]


def arrange(articles: Sequence[Article], names: Mapping[str, str]) -> list[SectionBlock]:
    """Articles grouped by section: configured sections first, in their configured order, then
    the others in order of their newest article; newest first within a section.

    ``names`` maps case-folded section keys to display names (``[digest] sections``).
    """
    rank = {key: i for i, key in enumerate(names)}
    groups: dict[str, list[Article]] = {}
    for article in sorted(articles, key=lambda a: a.published, reverse=True):
        groups.setdefault(article.section.strip().casefold(), []).append(article)
    ordered = sorted(groups, key=lambda key: rank.get(key, len(rank)))  # stable for the rest
    return [SectionBlock(display_name(groups[k][0].section, names), groups[k]) for k in ordered]


def in_order(sections: Sequence[SectionBlock]) -> list[Article]:
    """Every article of ``sections`` in the order a reader meets them."""
    return [a for block in sections for a in (*block.articles, *block.links)]


def split_after(sections: Sequence[SectionBlock], full: int) -> list[SectionBlock]:
    """The same sections with only the first ``full`` articles in full, the rest as links."""
    out = []
    seen = 0
    for block in sections:
        every = [*block.articles, *block.links]
        keep = max(0, min(len(every), full - seen))
        out.append(SectionBlock(block.name, every[:keep], every[keep:]))
        seen += len(every)
    return out


def reading_minutes(article: Article) -> int:
    """Minutes to read the whole article at 230 words a minute (at least 1)."""
    text = _TAGS.sub(" ", article.content_html) or article.summary
    return max(1, round(len(text.split()) / WORDS_PER_MINUTE))


def preheader(articles: Sequence[Article]) -> str:
    """The inbox preview line: the top story's standfirst, never the subject again.

    Without a standfirst: its first highlight, else the next headlines of the edition.
    """
    if not articles:
        return ""
    top = articles[0]
    if top.summary.strip():
        return " ".join(top.summary.split())
    if top.highlights:
        return " ".join(top.highlights[0].split())
    others = [a.title for a in articles[1:4]]
    return ("Also in this edition: " + "; ".join(others)) if others else ""


def week_start(cut_at: datetime, tz: ZoneInfo) -> datetime:
    """The Monday of the week a weekly digest looks back on: the week of the day before it is
    cut (a digest sent on Monday morning covers the week that just ended)."""
    day = cut_at.astimezone(tz) - timedelta(days=1)
    return day - timedelta(days=day.weekday())


def edition_labels(cut_at: datetime, tz: ZoneInfo, weekly: bool) -> tuple[str, str]:
    """(long, short) labels of an edition in the reader's zone: for the masthead and {date},
    and for {edition} in the subject. A weekly edition says so in both."""
    if weekly:
        monday = week_start(cut_at, tz)
        short = f"Week of {monday.day} {monday:%B}"
        return f"{short} {monday.year}", short
    local = cut_at.astimezone(tz)
    return f"{local:%A}, {local.day} {local:%B %Y}", f"{local.day} {local:%B}"


def shorten(text: str, width: int) -> str:
    """``text`` cut at a word boundary to at most ``width`` characters, ending in an ellipsis."""
    if len(text) <= width:
        return text
    room = text[: width - 1]
    cut = room.rsplit(" ", 1)[0] if " " in room else room
    return cut.rstrip(" ,;:-\u2013\u2014") + "\u2026"  # no dangling dash; an ellipsis


def fit_subject(subject: str, headline: str, marker: str, limit: int = SUBJECT_LIMIT) -> str:
    """Put ``headline`` where ``marker`` stands, shortened so the subject fits ``limit``
    characters when it can; the rest of the subject (site, date) is never cut."""
    room = limit - (len(subject) - len(marker))
    if subject.count(marker) == 1 and MIN_HEADLINE <= room < len(headline):
        headline = shorten(headline, room)
    return " ".join(subject.replace(marker, headline).split())


def reason(site_name: str, consent_at: datetime | None, method: str, tz: ZoneInfo) -> str:
    """Why this reader gets the digest and since when, from their consent record; an unknown
    date or method is left out rather than guessed."""
    when = ""
    if consent_at is not None:
        local = consent_at.astimezone(tz)
        when = f" on {local.day} {local:%B %Y}"
    if method == "cli":
        return f"You get this because our newsroom added you to the {site_name} digest{when}."
    return f"You get this because you subscribed to {site_name}{when}{_METHODS.get(method, '')}."
