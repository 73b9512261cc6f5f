"""Make outside text safe to store, syndicate and mail.

Article HTML comes from files and other people's feeds; it is cleaned once, at collection, with
nh3 (scripts, styles, event handlers and unknown iframes removed). Every text field also loses
the characters XML 1.0 forbids, because one stray control character makes a whole feed invalid.
"""

from __future__ import annotations

import re

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
    return _BARE_IFRAME.sub("", cleaned)


def plain_text(text: str) -> str:
    """A single-line plain-text field (titles, names): no tags, no control characters."""
    no_tags = nh3.clean(strip_illegal_xml(text), tags=set())
    unescaped = no_tags.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
    unescaped = unescaped.replace("&#39;", "'").replace("&amp;", "&")
    return " ".join(unescaped.split())
