"""Make outside text safe to store, syndicate and mail.

Article HTML comes from files and other people's feeds; it is cleaned once, at collection, with
nh3 (scripts, styles and event handlers removed; embeds from trusted video hosts become links,
others are dropped). Every text field also loses
the characters XML 1.0 forbids, because one stray control character makes a whole feed invalid.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

import nh3

# XML 1.0 allows #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

ALLOWED_TAGS = set(nh3.ALLOWED_TAGS) | {"figure", "figcaption", "picture", "source", "iframe"}
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "img": {"src", "alt", "title", "width", "height", "loading", "srcset", "sizes"},
    "source": {"srcset", "type", "media", "sizes"},
    "iframe": {"src", "width", "height", "title", "allowfullscreen"},
    "a": {"href", "title", "hreflang"},
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


def clean_html(fragment: str) -> str:
    """Sanitised HTML: safe tags and attributes only, links get rel=noopener."""
    cleaned = nh3.clean(
        strip_illegal_xml(fragment),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    # Feed validators flag iframes as unsafe and mail clients drop them: a trusted embed
    # becomes a plain link to the same video.
    cleaned = _EMBED.sub(r'<p><a href="\1">Watch the video</a></p>', cleaned)
    return _BARE_IFRAME.sub("", cleaned)


def plain_text(text: str) -> str:
    """A single-line plain-text field (titles, names): no tags, no control characters."""
    no_tags = nh3.clean(strip_illegal_xml(text), tags=set())
    unescaped = no_tags.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
    unescaped = unescaped.replace("&#39;", "'").replace("&amp;", "&")
    return " ".join(unescaped.split())


_URL_ATTR = re.compile(r'\b(href|src|srcset)="([^"]*)"')


def _absolute(value: str, base: str) -> str:
    if value.startswith(("#", "mailto:")) or re.match(r"^[a-z][a-z0-9+.-]*://", value, re.I):
        return value
    return urljoin(base, value)


def absolute_urls(fragment: str, base: str) -> str:
    """Make every link and image URL absolute against ``base`` (the article's own URL).

    Feed readers and mail clients show content away from the site, where "/images/x.jpg"
    points nowhere. Runs on sanitised HTML, whose attributes are always double-quoted.
    """

    def fix(match: re.Match[str]) -> str:
        name, raw = match.group(1), html.unescape(match.group(2))
        if name == "srcset":
            parts = []
            for candidate in raw.split(","):
                url, _, size = candidate.strip().partition(" ")
                parts.append(f"{_absolute(url, base)} {size}".strip())
            fixed = ", ".join(parts)
        else:
            fixed = _absolute(raw, base)
        return f'{name}="{html.escape(fixed, quote=True)}"'

    return _URL_ATTR.sub(fix, fragment)
