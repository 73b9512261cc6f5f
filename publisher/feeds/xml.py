"""RSS 2.0 and Atom 1.0 documents. The only module that imports feedgen.

feedgen 1.0.0 pitfalls handled here (each has a test):
- Atom entry links lose rel/type/length (lkiesow/python-feedgen#135), which readers see as
  duplicate alternate links: entry links are written here, after feedgen, with lxml.
- ``type="CDATA"`` content is an RSS-only trick that is invalid in Atom: never used.
- one self link is shared by both outputs, and RSS's channel <link> is the *last* link added
  (a self link added last becomes the channel's home page): each format gets its own
  generator, and RSS's home link is set explicitly.
- ``updated``/``lastBuildDate`` default to now, making output unreproducible: both come from
  the newest item, so an unchanged feed has unchanged bytes.
RSS has no place for hub or archive links, so those are added as atom:link after feedgen.
"""

from __future__ import annotations

from feedgen.feed import FeedGenerator
from lxml import etree

from .model import FeedDoc, Site

ATOM = "http://www.w3.org/2005/Atom"
FH = "http://purl.org/syndication/history/1.0"


def _generator(doc: FeedDoc, site: Site, self_url: str, self_type: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False)  # dc:creator: RSS's author without an email address
    fg.id(self_url if doc.archive_of else site.feed_url(doc.folder, ""))
    fg.title(doc.title)
    fg.subtitle(doc.subtitle or doc.title)
    fg.language(site.language)
    fg.generator("publisher")
    fg.author(name=site.name)  # Atom requires a feed author when an entry has none
    fg.link(href=self_url, rel="self", type=self_type)
    fg.link(href=site.url + "/", rel="alternate", type="text/html")  # last: RSS's <link>
    fg.updated(doc.updated)
    fg.lastBuildDate(doc.updated)
    fg.ttl(site.ttl)
    for item in reversed(doc.items):  # feedgen prepends each new entry
        article = item.article
        fe = fg.add_entry()
        fe.id(article.guid)
        fe.guid(article.guid, permalink=False)
        fe.title(article.title)
        fe.link(href=article.link)
        fe.published(article.published)
        fe.updated(item.updated)
        if article.author:
            if item.author_email:
                fe.author(name=article.author, email=item.author_email)
            else:
                fe.author(name=article.author)
                fe.dc.dc_creator(article.author)
        for term in dict.fromkeys([article.section, *article.tags]):
            if term:
                fe.category(term=term)
        fe.summary(article.summary or article.title)  # atom:summary (RSS: description)
        fe.content(item.html, type="html")
        if item.enclosure is not None:
            enc = item.enclosure
            fe.enclosure(enc.url, str(enc.length), enc.mime)
    return fg


def _atom_link(rel: str, href: str, mime: str = "") -> etree._Element:
    link = etree.Element(f"{{{ATOM}}}link")
    link.set("rel", rel)
    if mime:
        link.set("type", mime)
    link.set("href", href)
    return link


def _feed_links(doc: FeedDoc, site: Site) -> list[tuple[str, str, str]]:
    links = [("hub", hub, "") for hub in site.hubs]
    if doc.current:
        links.append(("current", doc.current, "application/atom+xml"))
    if doc.prev_archive:
        links.append(("prev-archive", doc.prev_archive, "application/atom+xml"))
    return links


def _serialise(root: etree._Element, site: Site) -> bytes:
    etree.indent(root, space="  ")
    body = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    head = b"<?xml version='1.0' encoding='UTF-8'?>\n"
    if site.stylesheet:
        head += f'<?xml-stylesheet type="text/xsl" href="{site.stylesheet}"?>\n'.encode()
    return head + bytes(body) + b"\n"


def build_rss(doc: FeedDoc, site: Site) -> bytes:
    """RSS 2.0 with content:encoded, dc:creator, enclosures, and atom:link self/hub/archive."""
    self_url = site.feed_url(doc.folder, "rss.xml")
    fg = _generator(doc, site, self_url, "application/rss+xml")
    root = etree.fromstring(fg.rss_str(pretty=False))
    channel = root.find("channel")
    assert channel is not None
    home = channel.find("link")
    assert home is not None
    home.text = site.url + "/"
    anchor = channel.find(f"{{{ATOM}}}link")  # the self link feedgen wrote
    if anchor is None:
        anchor = channel.find("description")
    position = list(channel).index(anchor) + 1
    for rel, href, mime in _feed_links(doc, site):
        channel.insert(position, _atom_link(rel, href, mime))
        position += 1
    return _serialise(root, site)


def build_atom(doc: FeedDoc, site: Site) -> bytes:
    """Atom 1.0 with html content, entry links intact, hub and RFC 5005 archive links."""
    self_url = (
        site.archive_url(doc.folder, doc.archive_of)
        if doc.archive_of
        else site.feed_url(doc.folder, "atom.xml")
    )
    fg = _generator(doc, site, self_url, "application/atom+xml")
    root = etree.fromstring(fg.atom_str(pretty=False))
    items = {item.article.guid: item for item in doc.items}
    for entry in root.iter(f"{{{ATOM}}}entry"):
        item = items[entry.findtext(f"{{{ATOM}}}id") or ""]
        for old in entry.findall(f"{{{ATOM}}}link"):
            entry.remove(old)
        position = list(entry).index(entry.find(f"{{{ATOM}}}title")) + 1
        entry.insert(position, _atom_link("alternate", item.article.link, "text/html"))
        if item.enclosure is not None:
            enc = _atom_link("enclosure", item.enclosure.url, item.enclosure.mime)
            enc.set("length", str(item.enclosure.length))
            entry.insert(position + 1, enc)
    position = list(root).index(root.find(f"{{{ATOM}}}link"))
    for rel, href, mime in _feed_links(doc, site):
        root.insert(position, _atom_link(rel, href, mime))
    if doc.archive_of:  # extension elements must come before the entries
        marker = etree.Element(f"{{{FH}}}archive", nsmap={"fh": FH})
        root.insert(list(root).index(root.find(f"{{{ATOM}}}title")), marker)
    return _serialise(root, site)
