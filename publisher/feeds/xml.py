"""RSS 2.0 and Atom 1.0 documents. The only module that imports feedgen.

feedgen 1.0.0 pitfalls handled here (each has a test):
- Atom entry links lose rel/type/length (lkiesow/python-feedgen#135), which readers see as
  duplicate alternate links: entry links are written here, after feedgen, with lxml.
- ``type="CDATA"`` content is an RSS-only trick that is invalid in Atom: never used.
- one self link is shared by both outputs, and RSS's channel <link> is the *last* link added
  (a self link added last becomes the channel's home page): feedgen gets no self link at all;
  each format's own self link is added afterwards, and RSS's home link is set explicitly.
  (One generator then serves both formats, which halves the build time.)
- ``updated``/``lastBuildDate`` default to now, making output unreproducible: both come from
  the newest item, so an unchanged feed has unchanged bytes.
RSS has no place for hub or archive links, so those are added as atom:link after feedgen.
The trees come from feedgen's ``_create_rss``/``_create_atom`` (what its ``*_str`` methods
serialise), pinned by the ``feedgen<2`` requirement, to avoid a serialise-and-parse round trip;
each article's entry is made by feedgen's ``FeedEntry`` once per run and copied into every
feed that shows it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from lxml import etree

from .model import EPOCH, FeedDoc, FeedItem, Site

ATOM = "http://www.w3.org/2005/Atom"
FH = "http://purl.org/syndication/history/1.0"
DC = "http://purl.org/dc/elements/1.1/"


def _self_url(doc: FeedDoc, site: Site, name: str) -> str:
    if doc.archive_of:
        return site.archive_url(doc.folder, doc.archive_of)
    return site.feed_url(doc.folder, name)


def _generator(doc: FeedDoc, site: Site) -> FeedGenerator:
    """The feed-level part; entries come from ``Entries`` (made once per article)."""
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False)  # declares xmlns:dc on the RSS root for dc:creator
    fg.id(_self_url(doc, site, "") if doc.archive_of else site.feed_url(doc.folder, ""))
    fg.title(doc.title)
    fg.subtitle(doc.subtitle or doc.title)
    fg.language(site.language)
    fg.generator("publisher")
    fg.author(name=site.name)  # Atom requires a feed author when an entry has none
    fg.link(href=site.url + "/", rel="alternate", type="text/html")
    fg.updated(doc.updated)
    fg.lastBuildDate(doc.updated)
    fg.ttl(site.ttl)
    return fg


class Entries:
    """Each article's RSS item and Atom entry, made by feedgen once per run and copied into
    every document that shows the article (site, section and author feeds, archives)."""

    def __init__(self) -> None:
        self._made: dict[str, tuple[etree._Element, etree._Element]] = {}

    def _make(self, item: FeedItem) -> tuple[etree._Element, etree._Element]:
        article = item.article
        fe = FeedEntry()
        fe.id(article.guid)
        fe.guid(article.guid, permalink=False)
        fe.title(article.title)
        fe.link(href=article.link)
        fe.published(article.published)
        fe.updated(item.updated)
        if article.author:
            fe.author(name=article.author, email=item.author_email or None)
        for term in dict.fromkeys([article.section, *article.tags]):
            if term:
                fe.category(term=term)
        fe.summary(article.summary or article.title)  # atom:summary (RSS: description)
        fe.content(item.html, type="html")
        if item.enclosure is not None:
            enc = item.enclosure
            fe.enclosure(enc.url, str(enc.length), enc.mime)
        rss = fe.rss_entry()
        # RSS's <author> must be an email address: a name alone goes in dc:creator.
        if article.author and not item.author_email:
            etree.SubElement(rss, f"{{{DC}}}creator").text = article.author
        atom = fe.atom_entry()
        # feedgen#135: its Atom entry links lose rel/type/length; write them ourselves. The
        # entry's elements carry bare names under the feed's default Atom namespace.
        for old in atom.findall("link"):
            atom.remove(old)
        position = list(atom).index(atom.find("title")) + 1
        atom.insert(position, _atom_link_bare("alternate", article.link, "text/html"))
        if item.enclosure is not None:
            link = _atom_link_bare("enclosure", item.enclosure.url, item.enclosure.mime)
            link.set("length", str(item.enclosure.length))
            atom.insert(position + 1, link)
        return rss, atom

    def get(self, item: FeedItem) -> tuple[etree._Element, etree._Element]:
        """Copies of the article's (RSS item, Atom entry), ready to append to a document."""
        made = self._made.get(item.article.guid)
        if made is None:
            made = self._made[item.article.guid] = self._make(item)
        return copy.deepcopy(made[0]), copy.deepcopy(made[1])


def _atom_link(rel: str, href: str, mime: str = "") -> etree._Element:
    link = etree.Element(f"{{{ATOM}}}link")
    link.set("rel", rel)
    if mime:
        link.set("type", mime)
    link.set("href", href)
    return link


def _atom_link_bare(rel: str, href: str, mime: str = "") -> etree._Element:
    link = _atom_link(rel, href, mime)
    link.tag = "link"
    return link


def _feed_links(doc: FeedDoc, site: Site, name: str) -> list[tuple[str, str, str]]:
    """The feed-level links feedgen cannot write correctly, self first."""
    mime = "application/rss+xml" if name == "rss.xml" else "application/atom+xml"
    links = [("self", _self_url(doc, site, name), mime)]
    links += [("hub", hub, "") for hub in site.hubs]
    if doc.current:
        links.append(("current", doc.current, "application/atom+xml"))
    if doc.prev_archive:
        links.append(("prev-archive", doc.prev_archive, "application/atom+xml"))
    return links


def _serialise(root: etree._Element, site: Site) -> bytes:
    body = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    head = b"<?xml version='1.0' encoding='UTF-8'?>\n"
    if site.stylesheet:
        head += f'<?xml-stylesheet type="text/xsl" href="{site.stylesheet}"?>\n'.encode()
    return head + bytes(body) + b"\n"


def _rss(fg: FeedGenerator, doc: FeedDoc, site: Site, entries: Entries) -> bytes:
    """RSS 2.0 with content:encoded, dc:creator, enclosures, and atom:link self/hub/archive."""
    root, _ = fg._create_rss()  # the tree rss_str() would serialise: no parse round trip
    channel = root.find("channel")
    assert channel is not None
    home = channel.find("link")
    assert home is not None
    home.text = site.url + "/"
    description = channel.find("description")
    position = list(channel).index(description) + 1
    for rel, href, mime in _feed_links(doc, site, "rss.xml"):
        channel.insert(position, _atom_link(rel, href, mime))
        position += 1
    for item in doc.items:
        channel.append(entries.get(item)[0])
    return _serialise(root, site)


def _atom(fg: FeedGenerator, doc: FeedDoc, site: Site, entries: Entries) -> bytes:
    """Atom 1.0 with html content, entry links intact, hub and RFC 5005 archive links."""
    # The tree atom_str() would serialise. Its elements carry bare names under the default
    # Atom namespace, so ours must too.
    root, _ = fg._create_atom()
    position = list(root).index(root.find("link"))
    for rel, href, mime in _feed_links(doc, site, "atom.xml"):
        root.insert(position, _atom_link_bare(rel, href, mime))
        position += 1
    if doc.archive_of:  # extension elements must come before the entries
        marker = etree.Element(f"{{{FH}}}archive", nsmap={"fh": FH})
        root.insert(list(root).index(root.find("title")), marker)
    for item in doc.items:
        root.append(entries.get(item)[1])
    return _serialise(root, site)


def build_xml(doc: FeedDoc, site: Site, entries: Entries) -> dict[str, bytes]:
    """RSS 2.0 and Atom 1.0 for one document, from one feedgen generator."""
    fg = _generator(doc, site)
    return {"rss.xml": _rss(fg, doc, site, entries), "atom.xml": _atom(fg, doc, site, entries)}


def build_atom(doc: FeedDoc, site: Site, entries: Entries) -> bytes:
    """Atom alone: archive documents (RFC 5005) are Atom only."""
    return _atom(_generator(doc, site), doc, site, entries)


@dataclass(frozen=True)
class PageEntry:
    """A page worth announcing that is not an article: a digest edition in the archive."""

    url: str  # also its permanent id
    title: str
    updated: datetime
    summary: str


def build_page_feeds(
    title: str, home: str, rss_url: str, atom_url: str, pages: list[PageEntry]
) -> dict[str, bytes]:
    """RSS 2.0 and Atom 1.0 of a list of pages, newest first (used by the digest archive)."""
    updated = max((p.updated for p in pages), default=EPOCH)
    outputs: dict[str, bytes] = {}
    for name, self_url, mime in (
        ("rss", rss_url, "application/rss+xml"),
        ("atom", atom_url, "application/atom+xml"),
    ):
        fg = FeedGenerator()
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
        if name == "rss":
            outputs[name] = bytes(fg.rss_str(pretty=True))
        else:
            root, _ = fg._create_atom()
            for entry in root.iter("entry"):  # feedgen#135, as for article feeds
                link = entry.find("link")
                if link is not None:
                    link.set("rel", "alternate")
                    link.set("type", "text/html")
            etree.indent(root)
            outputs[name] = bytes(
                etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)
            )
    return outputs
