"""Render digests. The only module that imports Jinja2 and premailer.

An edition variant is rendered and CSS-inlined **once** (a *draft*); what differs between its
readers is left as placeholders and filled in by plain string substitution, which costs
microseconds where premailer costs tens of milliseconds. Two kinds differ:

* per time zone and frequency (``DigestDraft.localise``, once per zone a variant is sent to):
  the date in the masthead and subject ("Week of 16 September" for a weekly reader) and every
  article's time;
* per recipient (``RenderedDigest.personalise``): the greeting, links and footer lines.

A draft also keeps to the HTML size budget (``[digest] html_budget_kb``): when every article in
full would pass it, the first ones are shown in full and the rest as headline links.
"""

from __future__ import annotations

import hashlib
import html
import logging
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from premailer import Premailer

from ..config import Settings
from ..errors import RenderError
from ..models import Article, Edition
from ..resources import templates
from ..store.protocols import ArticleReader
from .content import (
    SectionBlock,
    arrange,
    edition_labels,
    fit_subject,
    in_order,
    preheader,
    reading_minutes,
    split_after,
    text_direction,
)
from .images import ImageBox, image_boxes

log = logging.getLogger(__name__)

PERSONAL_FIELDS = ("greeting", "name", "email", "unsubscribe_url", "preferences_url", "reason")
_FIELDS = "|".join(PERSONAL_FIELDS)
# What a placeholder is counted as when a draft is held to the size budget: personal values at
# 400 bytes (real ones are 20 to 250; names are cut at 200 characters), the subject in <title>
# at 300, dates and times at 40.
_ALLOWANCE = {"subject": 300, "date": 40, **dict.fromkeys(PERSONAL_FIELDS, 400)}
_TIME_ALLOWANCE = 40
_HEADLINE = "\x00headline\x00"  # where the headline goes in a subject until it is fitted
# premailer logs every CSS property it cannot inline (media queries, :hover) at WARNING.
logging.getLogger("premailer").setLevel(logging.ERROR)
logging.getLogger("cssutils").setLevel(logging.CRITICAL)


@dataclass
class DigestContext:
    """Everything a digest template shows that is the same for every recipient."""

    site_name: str
    site_url: str
    tz: ZoneInfo  # the newsroom's zone: the archive page's dates
    cut_at: datetime
    articles: list[Article]
    web_url: str = ""  # this edition's archive page ("view in your browser", the full edition)
    archive_url: str = ""  # the archive's index page
    section_names: Mapping[str, str] = field(default_factory=dict)  # case-folded key -> name
    reading_time: bool = False
    images: Mapping[str, ImageBox] = field(default_factory=dict)
    budget: int | None = None  # bytes of HTML; None: no limit (the archive page)

    @property
    def date_label(self) -> str:
        return edition_labels(self.cut_at, self.tz, weekly=False)[0]

    @property
    def sections(self) -> list[SectionBlock]:
        """Articles grouped by section, in the configured order (``content.arrange``)."""
        return arrange(self.articles, self.section_names)


class TimeSlots:
    """The ``tz`` of a draft: ``local_time`` records each time and leaves a placeholder, so the
    draft can be shown in any reader's zone without rendering it again."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.times: list[datetime] = []
        self._index: dict[datetime, int] = {}

    def slot(self, value: datetime) -> str:
        if value not in self._index:
            self._index[value] = len(self.times)
            self.times.append(value)
        return f"@@{self.marker}:t{self._index[value]}@@"


@dataclass(frozen=True)
class RenderedDigest:
    """One variant in one zone, inlined, with placeholders where personal values go."""

    subject: str
    html: str
    text: str
    preheader: str
    marker: str = "P"  # the placeholders' per-render nonce (see ``placeholder``)

    @property
    def placeholder(self) -> re.Pattern[str]:
        """Matches this render's placeholders; the field name is group 1.

        The nonce is drawn per render, so an article that happens to contain text shaped like
        a placeholder is never mistaken for one (and never gets a reader's links put in).
        """
        return re.compile(f"@@{self.marker}:({_FIELDS})@@")

    def personalise(self, values: dict[str, str]) -> tuple[str, str]:
        """(html, text) for one recipient: values escaped for HTML, verbatim in text."""
        missing = set(PERSONAL_FIELDS) - set(values)
        if missing:
            raise RenderError(f"personal values missing: {', '.join(sorted(missing))}")
        pattern = self.placeholder
        html_part = pattern.sub(lambda m: html.escape(values[m.group(1)], quote=True), self.html)
        text_part = pattern.sub(lambda m: values[m.group(1)], self.text)
        return html_part, text_part

    def stable_hash(self) -> str:
        """A hash of the rendered HTML that does not depend on the nonce (for MIME boundaries)."""
        return hashlib.sha1(self.html.replace(self.marker, "").encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DigestDraft:
    """A variant rendered and inlined once, before it is put in any reader's zone."""

    html: str
    text: str
    preheader: str
    marker: str
    subject_format: str  # the subject with {site}, {count} filled in and _HEADLINE for the headline
    headline: str
    cut_at: datetime
    times: tuple[datetime, ...]
    full_count: int  # articles shown in full; the rest are headline links

    @property
    def zone_placeholder(self) -> re.Pattern[str]:
        return re.compile(f"@@{self.marker}:(subject|date|t\\d+)@@")

    def subject(self, tz: ZoneInfo, weekly: bool) -> str:
        """The subject in ``tz``: headline first, fitted to 60 characters where it can be."""
        long, short = edition_labels(self.cut_at, tz, weekly)
        text = self.subject_format.replace("\x00date\x00", long).replace("\x00edition\x00", short)
        return fit_subject(text, self.headline, _HEADLINE)

    def localise(self, tz: ZoneInfo, weekly: bool = False) -> RenderedDigest:
        """The draft as a reader in ``tz`` sees it (dates, times, subject); cheap, no premailer."""
        subject = self.subject(tz, weekly)
        values = {"subject": subject, "date": edition_labels(self.cut_at, tz, weekly)[0]}
        for i, when in enumerate(self.times):
            values[f"t{i}"] = local_time(when, tz)
        pattern = self.zone_placeholder
        html_part = pattern.sub(lambda m: html.escape(values[m.group(1)], quote=True), self.html)
        text_part = pattern.sub(lambda m: values[m.group(1)], self.text)
        return RenderedDigest(subject, html_part, text_part, self.preheader, self.marker)

    def html_size(self) -> int:
        """Bytes of the HTML part once filled in, each placeholder counted at its allowance."""
        size = len(self.html.encode("utf-8"))
        for m in re.finditer(f"@@{self.marker}:(\\w+)@@", self.html):
            size += _ALLOWANCE.get(m.group(1), _TIME_ALLOWANCE) - len(m.group(0))
        return size


def edition_date(edition: Edition, settings: Settings) -> str:
    """The edition's date in the newsroom's zone: the archive folder it lives in."""
    return f"{edition.cut_at.astimezone(settings.site.tz):%Y-%m-%d}"


def web_url(edition: Edition, settings: Settings) -> str:
    """The edition's archive page ("view in your browser"), or the archive index."""
    if not edition.variant or edition.id <= 0:
        return settings.archive_url + "/"
    return f"{settings.archive_url}/{edition_date(edition, settings)}/{edition.variant}.html"


def digest_context(settings: Settings, store: ArticleReader, edition: Edition) -> DigestContext:
    """What the templates need about an edition, the same for every recipient."""
    articles = store.articles_by_ids(edition.article_ids)
    conf = settings.digest
    return DigestContext(
        site_name=settings.site.name,
        site_url=settings.site.url,
        tz=settings.site.tz,
        cut_at=edition.cut_at,
        articles=articles,
        web_url=web_url(edition, settings),
        archive_url=settings.archive_url + "/",
        section_names={k.strip().casefold(): v for k, v in conf.sections.items()},
        reading_time=conf.reading_time,
        images=image_boxes((a.image_url for a in articles if a.image_url), settings),
        budget=conf.html_budget,
    )


def site_globals(settings: Settings) -> dict[str, Any]:
    """What every template may show about the site: language and direction, the postal
    address for footers, the subscribe page for forwarded copies."""
    direction = text_direction(settings.site.language)
    return {
        "lang": settings.site.language,
        "dir": direction,
        "start": "right" if direction == "rtl" else "left",
        "end": "left" if direction == "rtl" else "right",
        "postal_address": ", ".join(
            line.strip() for line in settings.site.postal_address.splitlines() if line.strip()
        ),
        "subscribe_url": settings.site.url + "/subscribe",
    }


class Renderer:
    """Loads templates (an operator's folder first, then the built-in ones) and renders them.

    ``site`` (from ``site_globals``) is available to every template, notes included.
    """

    def __init__(
        self, override_dir: Path | None = None, site: Mapping[str, Any] | None = None
    ) -> None:
        search = [str(override_dir)] if override_dir else []
        search.append(str(templates("email")))
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(search),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(site if site is not None else site_globals(Settings()))
        self.env.filters["local_time"] = _local_time
        self.env.filters["reading_minutes"] = reading_minutes

    def _render(self, name: str, context: dict[str, Any]) -> str:
        try:
            return self.env.get_template(name).render(**context)
        except jinja2.TemplateNotFound as exc:
            raise RenderError(
                f"template {exc.name!r} not found", "check [digest] templates_dir"
            ) from exc
        except jinja2.TemplateError as exc:
            raise RenderError(f"template {name}: {exc}", "fix the template named") from exc

    def _subject_format(self, ctx: DigestContext, subject_format: str, headline: str) -> str:
        """The subject with everything but the zone's dates and the headline filled in."""
        try:
            return subject_format.format(
                site=ctx.site_name,
                date="\x00date\x00",
                edition="\x00edition\x00",
                headline=_HEADLINE,
                count=len(ctx.articles),
            )
        except (KeyError, IndexError, ValueError) as exc:
            raise RenderError(
                f"bad [digest] subject template: {exc}",
                "use only {headline}, {site}, {date}, {edition} and {count}",
            ) from exc

    def _draft(
        self,
        ctx: DigestContext,
        subject_format: str,
        sections: list[SectionBlock],
        full: int,
        public: bool,
    ) -> DigestDraft:
        marker = "P" + secrets.token_hex(6)
        ordered = in_order(sections)
        headline = " ".join(ordered[0].title.split()) if ordered else "Nothing new"
        slots = TimeSlots(marker)
        lead = preheader(ordered)
        shown = min(full, len(ordered))
        context = {
            "site_name": ctx.site_name,
            "site_url": ctx.site_url,
            "date_label": f"@@{marker}:date@@",
            "subject": f"@@{marker}:subject@@",
            "preheader": lead,
            "sections": split_after(sections, full),
            "article_count": len(ordered),
            "full_count": shown,
            "tz": slots,
            "web_url": ctx.web_url,
            "archive_url": ctx.archive_url,
            "images": ctx.images,
            "reading_time": ctx.reading_time,
            "public": public,
            "personal": {f: "" if public else f"@@{marker}:{f}@@" for f in PERSONAL_FIELDS},
        }
        name = "digest" if ordered else "nothing_new"
        raw_html = self._render(f"{name}.html", context)
        text = "" if public else self._render(f"{name}.txt", context)
        return DigestDraft(
            html=inline_css(raw_html),
            text=text,
            preheader=lead,
            marker=marker,
            subject_format=self._subject_format(ctx, subject_format, headline),
            headline=headline,
            cut_at=ctx.cut_at,
            times=tuple(slots.times),
            full_count=shown,
        )

    def draft_digest(
        self, ctx: DigestContext, subject_format: str, *, public: bool = False
    ) -> DigestDraft:
        """Render and inline one variant, within ``ctx.budget`` bytes of HTML when it can be.

        Every article in full first (one premailer run: the usual case). Past the budget, the
        size of each full article is estimated from a render with none in full, and the first
        N that fit are shown in full, the rest as headline links; each try is measured, so
        the result is within budget whatever the estimate. An edition without articles is the
        short "nothing new" note.
        """
        sections = ctx.sections
        total = len(ctx.articles)
        draft = self._draft(ctx, subject_format, sections, total, public)
        budget = ctx.budget
        if budget is None or total == 0 or draft.html_size() <= budget:
            return draft
        least = self._draft(ctx, subject_format, sections, 0, public)
        if least.html_size() > budget:
            log.warning("digest over budget even with every article as a link")
            return least
        each = (draft.html_size() - least.html_size()) / total  # one article in full, roughly
        full = min(total - 1, int((budget - least.html_size()) / each))
        while full > 0:
            draft = self._draft(ctx, subject_format, sections, full, public)
            over = draft.html_size() - budget
            if over <= 0:
                return draft
            full -= max(1, math.ceil(over / each))
        return least

    def render_digest(self, ctx: DigestContext, subject_format: str) -> RenderedDigest:
        """One variant in the newsroom's zone (previews, benchmarks); see ``draft_digest``."""
        return self.draft_digest(ctx, subject_format).localise(ctx.tz)

    def render_public(self, ctx: DigestContext, subject_format: str) -> RenderedDigest:
        """The archive page of a variant: the same digest with no personal values or links,
        and every article in full (it is "the full edition" that mail links to; the size
        budget is for mail only)."""
        whole = replace(ctx, budget=None)
        return self.draft_digest(whole, subject_format, public=True).localise(ctx.tz)

    def render_page(self, name: str, context: dict[str, Any]) -> str:
        """Any other template (archive index, notes), rendered without inlining."""
        return self._render(name, context)

    def render_note(self, name: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """(subject, inlined HTML, text) of a short note such as ``confirm`` or ``unsubscribed``.

        The subject is the first line of the text template; the rest is the text part.
        """
        context = {"date_label": "", "preheader": "", "subject": "", **context}
        text = self._render(f"{name}.txt", context)
        subject, _, body = text.partition("\n")
        context["subject"] = context["subject"] or subject
        html = inline_css(self._render(f"{name}.html", context))
        return " ".join(subject.split()), html, body.lstrip("\n")


def inline_css(document: str) -> str:
    """Move stylesheet rules into style= attributes (mail clients drop <style> blocks).

    A ``<style data-premailer="ignore">`` block (media queries, the dark palette and its
    Outlook selectors) is left as it is.
    """
    try:
        return str(
            Premailer(
                document,
                keep_style_tags=False,  # rules it cannot inline (media queries) stay in <style>
                strip_important=False,
                remove_classes=False,
                cssutils_logging_level=logging.CRITICAL,
                disable_validation=True,
                allow_network=False,
                # Keep the templates' own width/height attributes: premailer would copy CSS
                # "height: auto" into height="auto", which is not a valid attribute value and
                # leaves Outlook without the image's size.
                disable_basic_attributes=["width", "height"],
            ).transform()
        )
    except Exception as exc:  # premailer raises bare exceptions from cssutils and lxml
        raise RenderError(
            f"CSS inlining failed: {exc}", "check the template's <style> block"
        ) from exc


def local_time(value: datetime, tz: ZoneInfo) -> str:
    """An article's time as readers see it: "September 17, 2024 5:50 PM PKT"."""
    local = value.astimezone(tz)
    hour = local.strftime("%I").lstrip("0")
    return f"{local:%B} {local.day}, {local.year} {hour}:{local:%M %p} {local.tzname()}"


def _local_time(value: datetime, tz: ZoneInfo | TimeSlots) -> str:
    """The ``local_time`` filter: a placeholder in a draft, the time itself elsewhere."""
    return tz.slot(value) if isinstance(tz, TimeSlots) else local_time(value, tz)
