"""Make outside text safe to store, syndicate and mail.

Article HTML comes from files and other people's feeds; it is cleaned once, at collection, with
nh3 (scripts, styles and event handlers removed; embeds from trusted video hosts become links,
others are dropped; ``<video>`` and ``<audio>`` stay when they have an http(s) source and
become a link to the article's page when they have none, never vanishing without a trace).
Titles, names, summaries, tags, credits and alt text are plain text, not HTML: entities are
decoded once, a literal ``<i>`` stays text, no-break spaces stay U+00A0, and every writer
escapes them for its own format. Every field also loses the characters XML 1.0 forbids,
because one stray control character makes a whole feed invalid.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import urljoin

import nh3

# XML 1.0 allows #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
# The noncharacters U+FDD0-U+FDEF ("not for interchange") go too: feed writers use them as
# private markers, so no outside text may carry them.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufdd0-\ufdef\ufffe\uffff\ud800-\udfff]")

MEDIA = {"video", "audio"}
ALLOWED_TAGS = set(nh3.ALLOWED_TAGS) | {
    "figure", "figcaption", "picture", "source", "iframe", "track", *MEDIA,
}  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "img": {"src", "alt", "title", "width", "height", "loading", "srcset", "sizes"},
    "source": {"src", "srcset", "type", "media", "sizes"},
    "iframe": {"src", "width", "height", "title", "allowfullscreen"},
    "a": {"href", "title", "hreflang"},
    "video": {"src", "poster", "width", "height", "preload", "muted", "loop", "playsinline"},
    "audio": {"src", "preload", "loop"},
    "track": {"src", "kind", "srclang", "label", "default"},
}
# Embeds we trust; any other iframe is dropped whole.
IFRAME_HOSTS = (
    "https://www.youtube.com/embed/",
    "https://www.youtube-nocookie.com/embed/",
    "https://player.vimeo.com/video/",
)


def strip_illegal_xml(text: str) -> str:
    """Remove characters that XML 1.0 cannot carry (control characters, lone surrogates)."""
    return _XML_ILLEGAL.sub("", text)


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if tag == "iframe" and attr == "src" and not value.startswith(IFRAME_HOSTS):
        return None
    return value


_BARE_IFRAME = re.compile(r"<iframe(?![^>]*\bsrc=)[^>]*>.*?</iframe>", re.IGNORECASE | re.DOTALL)
_EMBED = re.compile(r'<iframe[^>]*\bsrc="([^"]+)"[^>]*>.*?</iframe>', re.IGNORECASE | re.DOTALL)
_MEDIA = re.compile(r"<(video|audio)\b([^>]*)>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
_EMPTY_SOURCE = re.compile(r"<source(?![^>]*\bsrc(?:set)?=)[^>]*>", re.IGNORECASE)
_HAS_SRC = re.compile(r'\bsrc="[^"]')
MEDIA_LINK = {
    "video": "Watch the video on the article's page",
    "audio": "Listen on the article's page",
}


def _media(match: re.Match[str]) -> str:
    """A ``<video>``/``<audio>`` that still has a source after cleaning (nh3 removed every
    source that is not http(s) or relative) is kept; one with none left becomes a link to the
    article's own page (``href=""``, made absolute with the other links), where it plays."""
    tag, attrs, inner = match.group(1).lower(), match.group(2), match.group(3)
    inner = _EMPTY_SOURCE.sub("", inner)
    if _HAS_SRC.search(attrs) or _HAS_SRC.search(inner):
        return f"<{tag}{attrs}>{inner}</{tag}>"
    return f'<p><a href="" rel="noopener noreferrer">{MEDIA_LINK[tag]}</a></p>'


def clean_html(fragment: str) -> str:
    """Sanitised HTML: safe tags and attributes only, links get rel=noopener, players get
    controls (a feed reader runs no script to start them)."""
    cleaned = nh3.clean(
        strip_illegal_xml(fragment),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        set_tag_attribute_values={tag: {"controls": ""} for tag in MEDIA},
    )
    # Feed validators flag iframes as unsafe and mail clients drop them: a trusted embed
    # becomes a plain link to the same video.
    cleaned = _EMBED.sub(r'<p><a href="\1">Watch the video</a></p>', cleaned)
    cleaned = _MEDIA.sub(_media, cleaned)
    # nh3 writes U+00A0 as "&nbsp;": keep the character, as in every other field (a literal
    # "&nbsp;" in the text arrives as "&amp;nbsp;" and is left alone).
    return _BARE_IFRAME.sub("", cleaned).replace("&nbsp;", "\u00a0")


# Line breaks, tabs and runs of ordinary spaces become one space; no-break spaces (U+00A0,
# U+202F before French punctuation, U+2007) are meaningful and stay.
_SPACES = re.compile("[ \t\n\r\f\v\x1c-\x1f\x85\u2028\u2029]+")


def plain_text(text: str) -> str:
    """A single-line plain-text field (titles, names, summaries, tags, credits, alt text).

    Entities are decoded once (``&amp;nbsp;`` and ``&#160;`` become U+00A0, ``&amp;amp;``
    becomes ``&amp;``): sources written by people or scrapers carry them. Anything that looks
    like markup is kept as the text it is; every writer escapes it for its own format.
    """
    decoded = strip_illegal_xml(html.unescape(text)) if "&" in text else strip_illegal_xml(text)
    return _SPACES.sub(" ", decoded).strip(" ")


_URL_ATTR = re.compile(r'\b(href|src|srcset|poster)="([^"]*)"')


def _absolute(value: str, base: str, uri: Callable[[str], str]) -> str:
    if value.startswith("mailto:"):
        return value
    absolute = value if re.match(r"^[a-z][a-z0-9+.-]*://", value, re.I) else urljoin(base, value)
    try:
        return uri(absolute)
    except ValueError:  # a host that is no domain name: left as written
        return absolute


def absolute_urls(fragment: str, base: str, uri: Callable[[str], str] = str) -> str:
    """Make every link, image and media URL absolute against ``base`` (the article's own URL),
    and pass each through ``uri`` (``urls.as_uri``: an IRI's letters percent-encoded).

    Feed readers and mail clients show content away from the site, where "/images/x.jpg"
    points nowhere and "#notes" means the reader's page: a bare fragment becomes the
    article's URL with it. Runs on sanitised HTML, whose attributes are always double-quoted.
    """

    def fix(match: re.Match[str]) -> str:
        name, raw = match.group(1), html.unescape(match.group(2))
        if name == "srcset":
            parts = []
            for candidate in raw.split(","):
                url, _, size = candidate.strip().partition(" ")
                parts.append(f"{_absolute(url, base, uri)} {size}".strip())
            fixed = ", ".join(parts)
        else:
            fixed = _absolute(raw, base, uri)
        return f'{name}="{html.escape(fixed, quote=True)}"'

    return _URL_ATTR.sub(fix, fragment)
