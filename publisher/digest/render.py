"""Render digests. The only module that imports Jinja2 and premailer.

An edition variant is rendered and CSS-inlined **once** into a ``DigestDraft`` (draft.py), with
placeholders for what differs between its readers (their zone's dates and times, their own
links), which are filled in by plain string substitution: microseconds, where premailer costs
tens of milliseconds. A draft also keeps to the HTML size budget (``[digest] html_budget_kb``):
when every article in full would pass it, the first ones are shown in full and the rest as
headline links.
"""

from __future__ import annotations

import logging
import math
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
from ..urls import publishable
from .content import (
    SectionBlock,
    arrange,
    in_order,
    preheader,
    reading_minutes,
    split_after,
    text_direction,
)
from .draft import (
    DATE,
    EDITION,
    HEADLINE,
    PERSONAL_FIELDS,
    DigestDraft,
    RenderedDigest,
    TimeSlots,
    local_time,
)
from .images import ImageBox, box, image_boxes

log = logging.getLogger(__name__)

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
    def sections(self) -> list[SectionBlock]:
        """Articles grouped by section, in the configured order (``content.arrange``)."""
        return arrange(self.articles, self.section_names)


def edition_date(edition: Edition, settings: Settings) -> str:
    """The edition's date in the newsroom's zone: the archive folder it lives in."""
    return f"{edition.cut_at.astimezone(settings.site.tz):%Y-%m-%d}"


def web_url(edition: Edition, settings: Settings) -> str:
    """The edition's archive page ("view in your browser"), or the archive index."""
    if not edition.variant or edition.id <= 0:
        return settings.archive_url + "/"
    return f"{settings.archive_url}/{edition_date(edition, settings)}/{edition.variant}.html"


def digest_context(settings: Settings, store: ArticleReader, edition: Edition) -> DigestContext:
    """What the templates need about an edition, the same for every recipient.

    Article links and images pass ``urls.publishable``: digests and archive pages show them.
    """
    home = settings.site.url + "/"
    articles = [publishable(a, home) for a in store.articles_by_ids(edition.article_ids)]
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


# What templates see when a renderer is made without a site (tests, a template check).
NO_SITE: dict[str, Any] = {
    "lang": "en", "dir": "ltr", "start": "left", "end": "right",
    "postal_address": "", "subscribe_url": "/subscribe",
}  # fmt: skip


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
        self.env.globals.update(site if site is not None else NO_SITE)
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
                date=DATE,
                edition=EDITION,
                headline=HEADLINE,
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
            "default_box": box(None),  # an image whose size is unknown: the column's width
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
        if budget is None or total == 0 or draft.html_size <= budget:
            return draft
        least = self._draft(ctx, subject_format, sections, 0, public)
        if least.html_size > budget:
            log.warning("digest over budget even with every article as a link")
            return least
        each = max(1.0, (draft.html_size - least.html_size) / total)  # one more in full
        full = min(total - 1, int((budget - least.html_size) / each))
        while full > 0:
            draft = self._draft(ctx, subject_format, sections, full, public)
            over = draft.html_size - budget
            if over <= 0:
                break
            full -= max(1, math.ceil(over / each))
        else:
            draft = least
        log.info(
            "digest of %d articles shows %d in full to stay under %d bytes of HTML",
            total,
            draft.full_count,
            budget,
        )
        return draft

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


def _local_time(value: datetime, tz: ZoneInfo | TimeSlots) -> str:
    """The ``local_time`` filter: a placeholder in a draft, the time itself elsewhere."""
    return tz.slot(value) if isinstance(tz, TimeSlots) else local_time(value, tz)
