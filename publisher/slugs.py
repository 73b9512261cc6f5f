"""How names become URL path segments: article links, and section, author and tag folders.

One rule for articles (the last segment of a link the site makes up) and for feeds
(``section/<slug>/``), so a section's feed and its articles' links always agree.

A slug keeps the name's own letters whatever the script (``Привет, мир`` → ``привет-мир``),
percent-encoded where it becomes part of a URL, as Wikipedia and WordPress do; Latin letters
lose their accents (``Économie`` → ``economie``), as WordPress does. ``[site] slug_ascii``
transliterates everything to ASCII instead (Unidecode: ``中国`` → ``zhong-guo``). These
functions only say what a *new* slug would be: the store fixes each one the first time it
sees the article, section, author or tag, and never computes it again, so an edited headline
or a newcomer with a similar name never moves anyone's URL.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

from unidecode import unidecode

MAX_LENGTH = 80  # characters; a percent-encoded CJK slug is still under 800 bytes
FALLBACK = "untitled"  # a name with no letter or digit at all (only punctuation or emoji)
_DASHES = re.compile(r"-{2,}")
_NOT_ALNUM_ASCII = re.compile(r"[^a-z0-9]+")


def _fold(char: str) -> str:
    """Latin letters without their accents (ß → ss, é → e); every other script unchanged."""
    if char.isascii() or not unicodedata.name(char, "").startswith("LATIN"):
        return char
    return unidecode(char)


def slugify(text: str, *, ascii_only: bool = False, max_length: int = MAX_LENGTH) -> str:
    """A lowercase slug of letters, digits and dashes: 'Hello, World!' -> 'hello-world'.

    Combining marks stay with their letter (Devanagari vowel signs, Arabic harakat), so
    Hindi and Arabic slugs read as the words they came from. A name with nothing to keep
    gives ``untitled``; the store adds a suffix when such slugs meet.
    """
    if text.isascii():  # the same result as below, without a Unicode lookup per character
        slug = _NOT_ALNUM_ASCII.sub("-", text.lower()).strip("-")
        return _shorten(slug, max_length) or FALLBACK
    text = unicodedata.normalize("NFKC", text)
    text = unidecode(text) if ascii_only else "".join(_fold(c) for c in text)
    out: list[str] = []
    for char in text.lower():
        kind = unicodedata.category(char)[0]
        if kind in "LN" or (kind == "M" and out and out[-1] != "-"):
            out.append(char)
        else:
            out.append("-")
    slug = _DASHES.sub("-", "".join(out)).strip("-")
    return _shorten(unicodedata.normalize("NFC", slug), max_length) or FALLBACK


def _shorten(slug: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a dash when one is near, never inside a letter's
    combining marks."""
    if len(slug) <= limit:
        return slug
    cut = slug.rfind("-", 0, limit + 1)
    if cut < limit // 2:
        cut = limit
        while cut > 0 and unicodedata.category(slug[cut])[0] == "M":
            cut -= 1
    return slug[:cut].rstrip("-")


def suffixed(slug: str, identity: str, length: int = 6) -> str:
    """``slug`` with a suffix from ``identity`` (an article's source key, a section's name):
    the same for the same thing on every run, so a collision is settled the same way forever."""
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:length]
    return f"{_shorten(slug, MAX_LENGTH - length - 1)}-{digest}"


def candidates(slug: str, identity: str) -> Iterator[str]:
    """The slugs to try, in order: the plain one, then longer and longer suffixes (made only
    when asked for: nearly every slug is taken plain)."""
    yield slug
    for n in (6, 10, 16, 64):
        yield suffixed(slug, identity, n)


def segment(slug: str) -> str:
    """A slug as one URL path segment: percent-encoded UTF-8 (an IRI's letters as a URI)."""
    return quote(slug, safe="")


@dataclass(frozen=True)
class LinkRules:
    """How this site makes slugs and the links of articles that do not name their own."""

    site_url: str  # [site] url, without a trailing slash
    ascii_only: bool = False  # [site] slug_ascii

    def slug(self, text: str) -> str:
        return slugify(text, ascii_only=self.ascii_only)

    def article_link(self, section_slug: str, slug: str) -> str:
        """``<site>/<section>/<slug>/`` (no section: ``<site>/<slug>/``), percent-encoded."""
        parts = [self.site_url, *(segment(s) for s in (section_slug, slug) if s)]
        return "/".join(parts) + "/"
