"""The URL rules: which links may be published, and how a URL with a password is shown.

Links and images in articles come from outside (front matter written by anyone with access to
the content folder). A ``javascript:`` or ``data:`` link published in a feed, on the archive
page (served from the site's own origin) or in an email runs or shows whatever it carries, so
``public_url`` is the one gate: sources call it at collection (refusing the file with its line),
and every writer of feeds, archive pages and digests calls it again on what it writes, so a row
stored before this rule existed cannot slip through either.

What passes is returned as a URI, not an IRI (``as_uri``): feeds must carry URIs, so a host in
another script becomes its IDNA form and other non-ASCII characters are percent-encoded.

``hide_password`` is the one way a URL that may carry credentials (the database URL, a hub
URL) is shown in errors, logs and status output.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from .models import Article

log = logging.getLogger(__name__)

SCHEMES = ("http", "https")
# Browsers drop tab, CR and LF anywhere in a URL ("java\tscript:" is javascript:), so these are
# removed before the scheme is judged; any other control character or whitespace is refused.
_IGNORED = re.compile("[\t\r\n]")
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")


class UnsafeURL(ValueError):
    """A URL that may not be published: not http(s), no host, or carrying control characters."""


def public_url(value: str, base: str = "") -> str:
    """``value`` as an absolute http(s) URL, resolved against ``base`` when it is relative.

    Raises ``UnsafeURL`` (saying why, without quoting the value) for any other scheme
    (``javascript:``, ``data:``, ``file:``, ...), for a URL without a host, and for one with
    whitespace or control characters inside.
    """
    text = _IGNORED.sub("", value.strip())
    if _FORBIDDEN.search(text):
        raise UnsafeURL("contains whitespace or control characters")
    absolute = urljoin(base, text) if base else text
    try:
        parts = urlsplit(absolute)
    except ValueError as exc:  # e.g. an unbalanced "[" in the host
        raise UnsafeURL(f"is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in SCHEMES:
        shown = f"{parts.scheme.lower()}:" if parts.scheme else "no scheme"
        raise UnsafeURL(f"uses {shown}; only http and https links are published")
    if not parts.hostname:
        raise UnsafeURL("has no host")
    return as_uri(absolute)


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def as_uri(url: str) -> str:
    """``url`` (an IRI: ``https://ru.example/статья/``) as a URI (RFC 3987, 3.1): the host in
    its IDNA form, every other non-ASCII character percent-encoded as UTF-8. ASCII URLs,
    percent-encodings included, are returned unchanged."""
    if url.isascii():
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.hostname and not parts.hostname.isascii():
        try:
            host = parts.hostname.encode("idna").decode("ascii")
            port = f":{parts.port}" if parts.port is not None else ""
        except (UnicodeError, ValueError) as exc:
            raise UnsafeURL(f"has a host or port that is not valid ({exc})") from None
        userinfo, at, _ = netloc.rpartition("@")
        netloc = f"{userinfo}{at}{host}{port}"
    encoded = [_NON_ASCII.sub(lambda m: quote(m.group(0), safe=""), p) for p in parts[2:]]
    return urlunsplit((parts.scheme, _NON_ASCII.sub(lambda m: quote(m.group(0)), netloc), *encoded))


def public_url_or(value: str, fallback: str) -> str:
    """``value`` if it may be published, else ``fallback`` (what writers use on stored data)."""
    try:
        return public_url(value)
    except UnsafeURL:
        return fallback


def publishable(article: Article, home: str) -> Article:
    """``article`` with its link and lead image as every writer may publish them.

    Collection refuses unsafe URLs; this is the second gate, at writing, for rows stored before
    that rule or by another way in: an unsafe link becomes ``home`` (the site's front page),
    an unsafe image is dropped.
    """
    link = public_url_or(article.link, home)
    image = public_url_or(article.image_url, "") if article.image_url else ""
    if (link, image) == (article.link, article.image_url):
        return article
    if link == home != article.link or image == "" != article.image_url:
        log.warning("%s: an unsafe link or image was left out", article.key)
    return replace(article, link=link, image_url=image)


_PASSWORD = re.compile(r"(://[^/@:]*):[^/@]*@")


def hide_password(url: str) -> str:
    """``url`` with any password replaced by ``***``, for errors, logs and status lines.

    SQLAlchemy's own rendering is used where it can parse the URL; anything it cannot parse
    (a typo in the database URL) is masked by pattern, so no password is ever printed whole.
    """
    if "@" not in url:
        return url
    from sqlalchemy.engine import make_url  # parses every database URL form; loaded when needed
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _PASSWORD.sub(r"\1:***@", url)


def scrub(text: str, url: str) -> str:
    """``text`` (an error message from a driver) with ``url`` and its password masked."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    text = text.replace(url, hide_password(url))
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        match = _PASSWORD.search(url)
        password = match.group(0).split(":", 2)[-1].rstrip("@") if match else None
    if password:
        text = text.replace(str(password), "***")
    return text
