"""Render digests. The only module that imports Jinja2 and premailer.

An edition variant is rendered and CSS-inlined **once**; the per-subscriber values (greeting,
personal links) are left as placeholders and filled in by plain string substitution, which
costs microseconds where premailer costs tens of milliseconds.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import secrets
from dataclasses import dataclass
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

log = logging.getLogger(__name__)

PERSONAL_FIELDS = ("greeting", "name", "email", "unsubscribe_url", "preferences_url")
_FIELDS = "|".join(PERSONAL_FIELDS)
# premailer logs every CSS property it cannot inline (media queries, :hover) at WARNING.
logging.getLogger("premailer").setLevel(logging.ERROR)
logging.getLogger("cssutils").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class SectionBlock:
    """One section heading and its articles, in digest order."""

    name: str
    articles: list[Article]


@dataclass
class DigestContext:
    """Everything a digest template shows that is the same for every recipient."""

    site_name: str
    site_url: str
    tz: ZoneInfo
    cut_at: datetime
    articles: list[Article]
    web_url: str = ""  # this edition's archive page ("view in your browser")
    archive_url: str = ""  # the archive's index page

    @property
    def date_label(self) -> str:
        local = self.cut_at.astimezone(self.tz)
        return f"{local:%A}, {local.day} {local:%B %Y}"

    @property
    def sections(self) -> list[SectionBlock]:
        """Articles grouped by section, sections in order of their first (newest) article."""
        groups: dict[str, list[Article]] = {}
        for article in sorted(self.articles, key=lambda a: a.published, reverse=True):
            groups.setdefault(article.section or "More news", []).append(article)
        return [SectionBlock(name, items) for name, items in groups.items()]


@dataclass(frozen=True)
class RenderedDigest:
    """One variant, rendered and inlined, with placeholders where personal values go."""

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
    return DigestContext(
        site_name=settings.site.name,
        site_url=settings.site.url,
        tz=settings.site.tz,
        cut_at=edition.cut_at,
        articles=[publishable(a, home) for a in store.articles_by_ids(edition.article_ids)],
        web_url=web_url(edition, settings),
        archive_url=settings.archive_url + "/",
    )


class Renderer:
    """Loads templates (an operator's folder first, then the built-in ones) and renders them."""

    def __init__(self, override_dir: Path | None = None) -> None:
        search = [str(override_dir)] if override_dir else []
        search.append(str(templates("email")))
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(search),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["local_time"] = _local_time

    def _render(self, name: str, context: dict[str, Any]) -> str:
        try:
            return self.env.get_template(name).render(**context)
        except jinja2.TemplateNotFound as exc:
            raise RenderError(
                f"template {exc.name!r} not found", "check [digest] templates_dir"
            ) from exc
        except jinja2.TemplateError as exc:
            raise RenderError(f"template {name}: {exc}", "fix the template named") from exc

    def _context(
        self, ctx: DigestContext, subject_format: str, marker: str = "P"
    ) -> dict[str, Any]:
        top = max(ctx.articles, key=lambda a: a.published) if ctx.articles else None
        headline = top.title if top else "Nothing new"
        try:
            subject = subject_format.format(
                site=ctx.site_name, date=ctx.date_label, headline=headline, count=len(ctx.articles)
            )
        except (KeyError, IndexError, ValueError) as exc:
            raise RenderError(
                f"bad [digest] subject template: {exc}",
                "use only {site}, {date}, {headline} and {count}",
            ) from exc
        subject = " ".join(subject.split())  # no CR/LF from a headline can reach the header
        more = len(ctx.articles) - 1
        preheader = headline + (
            f" and {more} more {'story' if more == 1 else 'stories'}" if more > 0 else ""
        )
        return {
            "site_name": ctx.site_name,
            "site_url": ctx.site_url,
            "date_label": ctx.date_label,
            "sections": ctx.sections,
            "article_count": len(ctx.articles),
            "tz": ctx.tz,
            "subject": subject,
            "preheader": preheader,
            "web_url": ctx.web_url,
            "archive_url": ctx.archive_url,
            "public": False,
            "personal": {f: f"@@{marker}:{f}@@" for f in PERSONAL_FIELDS},
        }

    def render_digest(self, ctx: DigestContext, subject_format: str) -> RenderedDigest:
        """Render and inline one digest variant, personal values left as placeholders.

        An edition without articles renders the short "nothing new" note instead.
        """
        marker = "P" + secrets.token_hex(6)
        context = self._context(ctx, subject_format, marker)
        name = "digest" if ctx.articles else "nothing_new"
        raw_html = self._render(f"{name}.html", context)
        text = self._render(f"{name}.txt", context)
        return RenderedDigest(
            context["subject"], inline_css(raw_html), text, context["preheader"], marker
        )

    def render_public(self, ctx: DigestContext, subject_format: str) -> RenderedDigest:
        """The archive page of a variant: the same digest with no personal values or links."""
        context = self._context(ctx, subject_format)
        context["public"] = True
        context["personal"] = {f: "" for f in PERSONAL_FIELDS}
        raw_html = self._render("digest.html", context)
        return RenderedDigest(context["subject"], inline_css(raw_html), "", context["preheader"])

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
    """Move stylesheet rules into style= attributes (mail clients drop <style> blocks)."""
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


def _local_time(value: datetime, tz: ZoneInfo) -> str:
    local = value.astimezone(tz)
    hour = local.strftime("%I").lstrip("0")
    return f"{local:%B} {local.day}, {local.year} {hour}:{local:%M %p} {local.tzname()}"
