"""Markdown articles with TOML (``+++``) or YAML (``---``) front matter.

Front matter keys: ``title`` and ``date`` are required; ``author`` (a name or a list of
names), ``authors``, ``section``, ``summary``, ``image``, ``image_alt``, ``image_credit``,
``tags``, ``highlights``, ``slug``, ``link``, ``updated`` and ``format`` are optional. Dates
without a zone are the site's local time. ``link`` and ``image`` may be relative to the site;
anything but an http(s) URL is refused, naming the line. Errors name the file and line and
never quote the file's content (it may not be an article at all).

The body is Markdown, unless ``format = "html"`` or its first block is an HTML tag: then it
is HTML as written (WordPress and other CMS exports), never run through Markdown, where
indented lines would become code blocks showing escaped tags. In a Markdown body, a block of
HTML indented by four spaces is still HTML, not code (fenced blocks show code).
"""

from __future__ import annotations

import logging
import re
import tomllib
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import markdown as md
import yaml

from ..errors import ArticleError
from ..models import Article
from ..urls import UnsafeURL, public_url
from .text import localize

log = logging.getLogger(__name__)

# libyaml's loader is ~10x faster than the pure-Python one; both are "safe".
YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MARKDOWN = md.Markdown(extensions=["extra", "sane_lists"], output_format="html")

KNOWN_KEYS = {
    "title", "date", "author", "authors", "section", "summary", "image", "image_alt",
    "image_credit", "tags", "highlights", "slug", "link", "updated", "format",
}  # fmt: skip
FORMATS = ("markdown", "html")
# The start of an HTML element or comment (not a Markdown autolink such as <https://...>).
_HTML_START = re.compile(r"<(?:!--|/?[A-Za-z][A-Za-z0-9-]*(?:[\s/>]|$))")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_INDENTED = re.compile(r"^(?: {4}|\t)\s*")


def split_front_matter(text: str, path: str) -> tuple[dict[str, Any], str, int]:
    """Return (front matter, body, line number where the body starts).

    Parser errors are reported by line and column only: PyYAML's own message quotes the
    offending text, and the file may not be what it claims to be.
    """
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").split("\n")
    fence = lines[0].strip() if lines else ""
    if fence not in ("+++", "---"):
        raise ArticleError(
            path, 1, "no front matter", "start the file with a '+++' (TOML) or '---' (YAML) block"
        )
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == fence)
    except StopIteration:
        raise ArticleError(path, 1, f"front matter opened with {fence!r} is never closed") from None
    raw = "\n".join(lines[1:end])
    try:
        data: Any = tomllib.loads(raw) if fence == "+++" else yaml.load(raw, Loader=YAML_LOADER)
    except tomllib.TOMLDecodeError as exc:
        raise ArticleError(path, 2, f"front matter is not valid TOML: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 2
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        where = f" (column {mark.column + 1})" if mark is not None else ""
        raise ArticleError(path, line, f"front matter is not valid YAML: {problem}{where}") from exc
    if not isinstance(data, dict):
        raise ArticleError(path, 2, "front matter must be a table of keys and values")
    return data, "\n".join(lines[end + 1 :]), end + 2


def _text_list(value: Any, key: str, path: str, text: str, split: str = ",") -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(split) if v.strip()] if split else [value.strip()]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v).strip() for v in value if str(v).strip()]
    raise ArticleError(path, key_line(text, key), f"`{key}` must be a list of strings")


def key_line(text: str, key: str) -> int:
    """The file line where front matter ``key`` is set (1 if it cannot be found)."""
    pattern = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*[:=]""")
    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        if number > 1 and line.strip() in ("+++", "---"):
            break
        if pattern.match(line):
            return number
    return 1


def _when(value: Any, key: str, path: str, tz: ZoneInfo, text: str) -> datetime:
    if isinstance(value, datetime | date):
        return localize(value, tz)
    if isinstance(value, str):
        try:
            return localize(datetime.fromisoformat(value.strip().replace("Z", "+00:00")), tz)
        except ValueError:
            pass
    raise ArticleError(
        path,
        key_line(text, key),
        f"`{key}` is not a date",
        "use ISO 8601, e.g. 2024-09-17T17:50:00+05:00",
    )


def _url(value: str, key: str, path: str, site_url: str, text: str) -> str:
    """A publishable absolute URL for ``link`` or ``image``; the file is refused otherwise."""
    try:
        return public_url(value, site_url + "/")
    except UnsafeURL as exc:
        raise ArticleError(
            path,
            key_line(text, key),
            f"`{key}` {exc}",
            f"give `{key}` an http(s) URL, or a path on the site such as /images/photo.jpg",
        ) from None


def parse_markdown(
    text: str, *, key: str, source: str, path: str, site_url: str, tz: ZoneInfo
) -> Article:
    """Parse one Markdown article; raise ArticleError with the line that is wrong."""
    meta, body, _ = split_front_matter(text, path)
    if extra := sorted(set(meta) - KNOWN_KEYS):
        log.warning("%s: unknown front matter keys ignored: %s", path, ", ".join(extra))
    title = str(meta.get("title") or "").strip()
    if not title:
        raise ArticleError(path, 1, "front matter has no `title`", 'add title = "..."')
    if "date" not in meta:
        raise ArticleError(path, 1, "front matter has no `date`", "add date = 2024-09-17T17:50:00")
    link = str(meta.get("link") or "").strip()
    image = str(meta.get("image") or "").strip()
    # "author" may name one person or list several; "authors" lists them too. A name is
    # never split at a comma ("Smith, Jr."): several people are a list.
    authors = _text_list(meta.get("author"), "author", path, text, split="")
    authors += _text_list(meta.get("authors"), "authors", path, text, split="")
    return Article(
        key=key,
        source=source,
        title=title,
        link=_url(link, "link", path, site_url, text) if link else "",
        slug=str(meta.get("slug") or "").strip(),
        published=_when(meta["date"], "date", path, tz, text),
        updated=_when(meta["updated"], "updated", path, tz, text) if meta.get("updated") else None,
        authors=list(dict.fromkeys(authors)),
        section=str(meta.get("section") or "").strip(),
        summary=str(meta.get("summary") or "").strip(),
        content_html=_body(body, _format(meta.get("format"), path, text)),
        highlights=_text_list(meta.get("highlights"), "highlights", path, text),
        tags=_text_list(meta.get("tags"), "tags", path, text),
        image_url=_url(image, "image", path, site_url, text) if image else "",
        image_alt=str(meta.get("image_alt") or "").strip(),
        image_credit=str(meta.get("image_credit") or "").strip(),
    )


def _format(value: Any, path: str, text: str) -> str:
    """``markdown``, ``html``, or "" (not given: the body's first block decides)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str) and value.strip().lower() in FORMATS:
        return value.strip().lower()
    raise ArticleError(path, key_line(text, "format"), '`format` must be "markdown" or "html"')


def _body(body: str, fmt: str) -> str:
    """The body as HTML: as written when it is HTML, else rendered from Markdown."""
    first = next((line.strip() for line in body.split("\n") if line.strip()), "")
    if fmt == "html" or (not fmt and _HTML_START.match(first)):
        return body.strip()
    return _render(_unindent_html(body))


def _unindent_html(body: str) -> str:
    """Blocks that begin with an HTML tag indented by four spaces or a tab, moved to the
    margin so Markdown passes them through instead of showing them as code. Fenced code
    blocks are left alone."""
    out: list[str] = []
    fence = ""  # the fence character (` or ~) of the code block we are in, "" outside one
    width = 0  # the indentation being removed from the current block, 0 when none
    previous_blank = True
    for line in body.split("\n"):
        marker = _FENCE.match(line)
        if fence or marker:
            if not fence and marker:
                fence = marker.group(1)[0]
            elif marker and marker.group(1)[0] == fence:
                fence = ""
            out.append(line)
            width, previous_blank = 0, False
            continue
        if not line.strip():
            width, previous_blank = 0, True
            out.append(line)
            continue
        if previous_blank and (indent := _INDENTED.match(line)):
            width = len(indent.group(0)) if _HTML_START.match(line[indent.end() :]) else 0
        if width:
            margin = len(line) - len(line.lstrip(" \t"))
            line = line[min(width, margin) :]
        out.append(line)
        previous_blank = False
    return "\n".join(out)


def _render(body: str) -> str:
    """Markdown to HTML with one reused converter (building one per article is costly)."""
    return str(_MARKDOWN.reset().convert(body))
