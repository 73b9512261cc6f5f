"""RSS 2.0 and Atom 1.0 documents. The only module that imports feedgen.

feedgen is used through its public API only: the setters of ``FeedGenerator`` and
``FeedEntry``, ``rss_str``/``atom_str``/``rss_entry``/``atom_entry``, and
``register_extension``, whose ``extend_rss``/``extend_atom`` hooks are handed each tree just
before it is serialised. The hooks add what feedgen cannot write correctly (each has a test):
- Atom entry links lose rel/type/length (lkiesow/python-feedgen#135), which readers see as
  duplicate alternate links: entry links are written by the hook. Every Atom element is made
  unprefixed in the default namespace (feedgen's own are), so the validator sees no
  ``ns0:`` prefix anywhere.
- one self link is shared by both formats, and RSS's channel ``<link>`` is the *last* link
  added: feedgen gets only the site's home page; each format's self, hub and RFC 5005
  archive links are added by the hook.
- ``updated``/``lastBuildDate`` default to now, making output unreproducible: both come from
  the newest item, so an unchanged feed has unchanged bytes.
- RSS text elements (title, category, dc:creator, media text) are plain text, and the RSS
  profile asks for ``<`` and ``&`` in them as hexadecimal references (``&#x3C;``), which the
  validator checks; ``<description>`` is HTML, so the summary is escaped into it.
- the lead image is also written as Media RSS (``media:content`` with ``media:thumbnail``),
  as Ghost and WordPress do, besides the enclosure; an item without body text gets no empty
  ``<content>``.
Each article's RSS item and Atom entry is made once per run and copied into every document
that shows it.
"""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from lxml import etree

from .model import EPOCH, FeedDoc, FeedItem, Site

ATOM = "http://www.w3.org/2005/Atom"
FH = "http://purl.org/syndication/history/1.0"
DC = "http://purl.org/dc/elements/1.1/"
MEDIA = "http://search.yahoo.com/mrss/"
RSS_TYPE, ATOM_TYPE = "application/rss+xml", "application/atom+xml"
# Stand-ins for "<" and "&" in RSS text, swapped for hexadecimal references after
# serialisation (collect strips these noncharacters from every text it stores).
_LT, _AMP = "\ufdd0", "\ufdd1"
_END_TAG = re.compile(r"</[A-Za-z][A-Za-z0-9]*\s*>")


Hook = Callable[[etree._Element], None]


class _Hooks:
    """A feedgen extension (registered by class: feedgen makes the instance itself) whose
    hooks run what is set on that instance afterwards: ``rss``/``atom`` on the tree, and
    ``namespaces`` declared on the document's root."""

    def __init__(self) -> None:
        self.namespaces: dict[str, str] = {}
        self.rss: Hook | None = None
        self.atom: Hook | None = None

    def extend_ns(self) -> dict[str, str]:
        return self.namespaces

    def extend_rss(self, root: etree._Element) -> etree._Element:
        if self.rss is not None:
            self.rss(root)
        return root

    def extend_atom(self, root: etree._Element) -> etree._Element:
        if self.atom is not None:
            self.atom(root)
        return root


class _PageHooks(_Hooks):
    """The digest archive's entries: RSS plain text, Atom entry links (feedgen#135)."""

    def __init__(self) -> None:
        super().__init__()
        self.rss, self.atom = _rss_plain, _page_links


def _register(target: Any, name: str, namespaces: dict[str, str], **hooks: Hook) -> None:
    """Register a ``_Hooks`` extension on a FeedGenerator or FeedEntry and arm it."""
    if isinstance(target, FeedGenerator):
        rss, atom = "rss" in hooks, "atom" in hooks
        target.register_extension(name, _Hooks, None, atom=atom, rss=rss)
    else:
        target.register_extension(name, _Hooks)
    extension = getattr(target, name)
    extension.namespaces = namespaces
    extension.rss, extension.atom = hooks.get("rss"), hooks.get("atom")


def _marked(text: str) -> str:
    """RSS plain text with its "<" and "&" as the stand-ins ``_references`` writes out."""
    return text.replace("&", _AMP).replace("<", _LT)


def _rss_text(parent: etree._Element, tag: str, text: str, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, tag, **attrs)
    element.text = _marked(text)
    return element


def _atom_el(tag: str, **attrs: str) -> etree._Element:
    """An Atom element as feedgen makes them: no namespace of its own, under the default."""
    element = etree.Element(tag)
    for name, value in attrs.items():
        if value:
            element.set(name, value)
    return element


def _atom_text(element: etree._Element | None, text: str) -> None:
    """Atom text constructs are plain text; one that looks like it holds an end tag is sent
    as escaped HTML instead, which readers decode to the same text."""
    if element is not None and _END_TAG.search(text):
        element.set("type", "html")
        element.text = html.escape(text, quote=False)


def _media(parent: etree._Element, item: FeedItem, rss: bool) -> None:
    """The lead image as Media RSS: ``media:content`` (with its type, size, alt text and
    credit) and ``media:thumbnail``."""
    article = item.article
    content = etree.SubElement(parent, f"{{{MEDIA}}}content", url=article.image_url)
    content.set("medium", "image")
    if item.enclosure is not None:
        content.set("type", item.enclosure.mime)
        content.set("fileSize", str(item.enclosure.length))
    add: Callable[..., etree._Element] = _rss_text if rss else _plain
    if article.image_alt:
        add(content, f"{{{MEDIA}}}description", article.image_alt, type="plain")
    if article.image_credit:
        add(content, f"{{{MEDIA}}}credit", article.image_credit)
    etree.SubElement(parent, f"{{{MEDIA}}}thumbnail", url=article.image_url)


def _plain(parent: etree._Element, tag: str, text: str, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, tag, **attrs)
    element.text = text
    return element


def _rss_plain(entry: etree._Element) -> None:
    """An RSS item's plain-text elements marked for hexadecimal references, and its
    description (HTML by definition) holding its plain text escaped."""
    for name in ("title", "category"):
        for element in entry.findall(name):
            element.text = _marked(element.text or "")
    description = entry.find("description")
    if description is not None:
        description.text = html.escape(description.text or "", quote=False)


def _entry_rss(item: FeedItem) -> Hook:
    article = item.article

    def hook(entry: etree._Element) -> None:
        _rss_plain(entry)
        # RSS's one <author> must be an email address: a single author with a configured
        # address gets it; otherwise every author's name goes in a dc:creator.
        if len(article.authors) == 1 and item.emails and item.emails[0]:
            _rss_text(entry, "author", f"{item.emails[0]} ({article.author})")
        else:
            for name in article.authors:
                _rss_text(entry, f"{{{DC}}}creator", name)
        if article.image_url:
            _media(entry, item, rss=True)

    return hook


def _entry_atom(item: FeedItem) -> Hook:
    article = item.article

    def hook(entry: etree._Element) -> None:
        _atom_text(entry.find("title"), article.title)
        _atom_text(entry.find("summary"), article.summary or article.title)
        for author, email in zip(entry.findall("author"), item.emails, strict=False):
            if email:
                etree.SubElement(author, "email").text = email
        for old in entry.findall("link"):  # feedgen#135: rel/type/length get lost
            entry.remove(old)
        position = list(entry).index(entry.find("title")) + 1
        entry.insert(
            position, _atom_el("link", rel="alternate", type="text/html", href=article.link)
        )
        if item.enclosure is not None:
            enc = item.enclosure
            link = _atom_el(
                "link", rel="enclosure", type=enc.mime, length=str(enc.length), href=enc.url
            )
            entry.insert(position + 1, link)
        if article.image_url:
            _media(entry, item, rss=False)

    return hook


class Entries:
    """Each article's RSS item and Atom entry, made by feedgen once per run and copied into
    every document that shows the article (site, section, author and tag feeds, archives)."""

    def __init__(self) -> None:
        self._made: dict[str, tuple[etree._Element, etree._Element]] = {}

    def _make(self, item: FeedItem) -> tuple[etree._Element, etree._Element]:
        article = item.article
        fe = FeedEntry()
        _register(fe, "publisher", {}, rss=_entry_rss(item), atom=_entry_atom(item))
        fe.id(article.guid)
        fe.guid(article.guid, permalink=False)
        fe.title(article.title)
        fe.link(href=article.link)
        fe.published(article.published)
        fe.updated(item.updated)
        for name in article.authors:  # emails are added by the hooks, as each format wants
            fe.author(name=name)
        for term in dict.fromkeys([article.section, *article.tags]):
            if term:
                fe.category(term=term)
        fe.summary(article.summary or article.title)  # Atom summary; RSS description (hook)
        if item.html:  # never an empty <content>
            fe.content(item.html, type="html")
        if item.enclosure is not None:
            enc = item.enclosure
            fe.enclosure(enc.url, str(enc.length), enc.mime)
        return fe.rss_entry(), fe.atom_entry()

    def get(self, item: FeedItem) -> tuple[etree._Element, etree._Element]:
        """Copies of the article's (RSS item, Atom entry), ready to append to a document."""
        made = self._made.get(item.article.guid)
        if made is None:
            made = self._made[item.article.guid] = self._make(item)
        return copy.deepcopy(made[0]), copy.deepcopy(made[1])


def _self_url(doc: FeedDoc, site: Site, rss: bool) -> str:
    if doc.archive_of:
        return site.archive_url(doc.folder, doc.archive_of, rss)
    return site.feed_url(doc.folder, "rss.xml" if rss else "atom.xml")


def _feed_links(doc: FeedDoc, site: Site, rss: bool) -> list[tuple[str, str, str]]:
    """(rel, href, type) of the links feedgen cannot write correctly, self first.

    An archive links ``current`` to the subscription document and ``prev-archive`` to the
    archive before it, in its own format (RFC 5005 works for RSS 2.0 with atom:link too).
    """
    mime = RSS_TYPE if rss else ATOM_TYPE
    links = [("self", _self_url(doc, site, rss), mime)]
    links += [("hub", hub, "") for hub in site.hubs]
    if doc.archive_of:
        links.append(("current", site.feed_url(doc.folder, "rss.xml" if rss else "atom.xml"), mime))
    if doc.prev_archive:
        links.append(("prev-archive", site.archive_url(doc.folder, doc.prev_archive, rss), mime))
    return links


def _marked_archive(doc: FeedDoc) -> bool:
    """``fh:archive`` marks every archive but the oldest: an archive with no ``prev-archive``
    to point to would be an incomplete one (the validator's ArchiveIncomplete)."""
    return bool(doc.archive_of and doc.prev_archive)


def _generator(doc: FeedDoc, site: Site, entries: Entries) -> FeedGenerator:
    """The document as feedgen sees it, with the hooks that finish each format."""

    def finish_rss(root: etree._Element) -> None:
        channel = root.find("channel")
        assert channel is not None
        for name in ("title", "description"):
            element = channel.find(name)
            if element is not None:
                element.text = _marked(element.text or "")
        position = list(channel).index(channel.find("description")) + 1
        for rel, href, mime in _feed_links(doc, site, rss=True):
            link = etree.Element(f"{{{ATOM}}}link", rel=rel, href=href)
            if mime:
                link.set("type", mime)
            channel.insert(position, link)
            position += 1
        if _marked_archive(doc):
            channel.insert(position, etree.Element(f"{{{FH}}}archive"))
        for item in doc.items:
            channel.append(entries.get(item)[0])

    def finish_atom(root: etree._Element) -> None:
        _atom_text(root.find("title"), doc.title)
        position = list(root).index(root.find("link"))
        for rel, href, mime in _feed_links(doc, site, rss=False):
            root.insert(position, _atom_el("link", rel=rel, type=mime, href=href))
            position += 1
        if _marked_archive(doc):  # extension elements come before the entries
            root.insert(list(root).index(root.find("title")), etree.Element(f"{{{FH}}}archive"))
        for item in doc.items:
            root.append(entries.get(item)[1])

    fg = FeedGenerator()
    history = {"fh": FH} if _marked_archive(doc) else {}
    _register(fg, "publisher_rss", {"dc": DC, "media": MEDIA, **history}, rss=finish_rss)
    _register(fg, "publisher_atom", {"media": MEDIA, **history}, atom=finish_atom)
    fg.id(_self_url(doc, site, rss=False) if doc.archive_of else site.feed_url(doc.folder, ""))
    fg.title(doc.title)
    fg.subtitle(doc.subtitle or doc.title)
    fg.language(site.language)
    fg.generator("publisher")
    fg.author(name=site.name)  # Atom requires a feed author when an entry has none
    fg.link(href=site.url + "/", rel="alternate", type="text/html")  # RSS: the channel <link>
    if site.icon:
        fg.icon(site.icon)
        fg.logo(site.icon)  # Atom <logo>; RSS <image> with the channel's title and link
    fg.updated(doc.updated)
    fg.lastBuildDate(doc.updated)
    fg.ttl(site.ttl)
    return fg


def _references(data: bytes) -> bytes:
    """The RSS text stand-ins as hexadecimal references."""
    return data.replace(_LT.encode(), b"&#x3C;").replace(_AMP.encode(), b"&#x26;")


def _finish_bytes(data: bytes, site: Site) -> bytes:
    """feedgen's serialisation with the stylesheet instruction after the XML declaration and
    the RSS text stand-ins as hexadecimal references."""
    declaration, _, body = data.partition(b"\n")
    body = _references(body)
    head = declaration + b"\n"
    if site.stylesheet:
        head += f'<?xml-stylesheet type="text/xsl" href="{site.stylesheet}"?>\n'.encode()
    return head + body.rstrip(b"\n") + b"\n"


def build_xml(doc: FeedDoc, site: Site, entries: Entries) -> dict[str, bytes]:
    """RSS 2.0 and Atom 1.0 for one document, from one feedgen generator."""
    fg = _generator(doc, site, entries)
    return {
        "rss.xml": _finish_bytes(bytes(fg.rss_str()), site),
        "atom.xml": _finish_bytes(bytes(fg.atom_str()), site),
    }


def build_atom(doc: FeedDoc, site: Site, entries: Entries) -> bytes:
    return _finish_bytes(bytes(_generator(doc, site, entries).atom_str()), site)


def build_rss(doc: FeedDoc, site: Site, entries: Entries) -> bytes:
    return _finish_bytes(bytes(_generator(doc, site, entries).rss_str()), site)


@dataclass(frozen=True)
class PageEntry:
    """A page worth announcing that is not an article: a digest edition in the archive."""

    url: str  # also its permanent id
    title: str
    updated: datetime
    summary: str


def _page_links(entry: etree._Element) -> None:
    """feedgen#135, as for article feeds: the entry's page is its alternate HTML link."""
    for link in entry.findall("link"):
        link.set("rel", "alternate")
        link.set("type", "text/html")


def build_page_feeds(
    title: str, home: str, rss_url: str, atom_url: str, pages: list[PageEntry]
) -> dict[str, bytes]:
    """RSS 2.0 and Atom 1.0 of a list of pages, newest first (used by the digest archive)."""
    updated = max((p.updated for p in pages), default=EPOCH)
    outputs: dict[str, bytes] = {}
    for name, self_url, mime in (("rss", rss_url, RSS_TYPE), ("atom", atom_url, ATOM_TYPE)):
        fg = FeedGenerator()
        fg.register_extension("publisher", _Hooks, _PageHooks)
        fg.id(home)
        fg.title(title)
        fg.subtitle(title)
        fg.author(name=title)
        fg.link(href=self_url, rel="self", type=mime)  # one format per generator (see above)
        fg.link(href=home, rel="alternate", type="text/html")  # last: RSS's <link>
        fg.updated(updated)
        fg.lastBuildDate(updated)
        fg.generator("publisher")
        for page in reversed(pages):  # feedgen prepends each new entry
            fe = fg.add_entry()
            fe.id(page.url)
            fe.guid(page.url, permalink=True)
            fe.title(page.title)
            fe.link(href=page.url)
            fe.updated(page.updated)
            fe.published(page.updated)
            fe.summary(page.summary)
        data: Any = fg.rss_str(pretty=True) if name == "rss" else fg.atom_str(pretty=True)
        outputs[name] = _references(bytes(data))
    return outputs
