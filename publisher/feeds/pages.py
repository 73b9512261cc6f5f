"""Files for people rather than feed readers: the XSL stylesheet, an index page, and OPML."""

from __future__ import annotations

import html
from xml.sax.saxutils import quoteattr

from ..resources import templates
from .model import FILENAMES, MEDIA_TYPES, Site
from .plan import PlannedDoc

FORMAT_NAMES = {"rss.xml": "RSS", "atom.xml": "Atom", "feed.json": "JSON Feed"}
KIND_HEADINGS = {
    "site": "Everything", "section": "By section", "author": "By author", "tag": "By tag",
}  # fmt: skip
INDEX_PLACEHOLDER = b"{{index_url}}"


def stylesheet(site: Site) -> bytes:
    """``feed.xsl`` with the way back to this site's ``index.html`` (a stylesheet cannot
    work out where the feeds' index is from the feed it shows)."""
    index = html.escape(f"{site.base_path}/index.html").encode()
    return (templates("feeds") / "feed.xsl").read_bytes().replace(INDEX_PLACEHOLDER, index)


def alternate_links(site: Site, doc: PlannedDoc) -> str:
    """The ``<link rel="alternate">`` tags a page should carry so browsers find its feeds."""
    return "\n".join(
        f'<link rel="alternate" type="{MEDIA_TYPES[name]}" '
        f'title={quoteattr(f"{doc.title} ({FORMAT_NAMES[name]})")} href="{site.feed_url(doc.folder, name)}">'
        for name in FILENAMES
    )


def index_html(site: Site, docs: list[PlannedDoc]) -> bytes:
    """A page listing every feed in every format, with how to subscribe."""
    sections = []
    for kind, heading in KIND_HEADINGS.items():
        rows = []
        for doc in sorted((d for d in docs if d.kind == kind), key=lambda d: d.name.lower()):
            label = html.escape(doc.name or doc.title)
            links = " · ".join(
                f'<a href="{html.escape(site.feed_url(doc.folder, n))}">{FORMAT_NAMES[n]}</a>'
                for n in FILENAMES
            )
            count = f"{len(doc.heads)} item{'' if len(doc.heads) == 1 else 's'}"
            rows.append(f"<li><strong>{label}</strong> ({count}): {links}</li>")
        if rows:
            sections.append(f"<h2>{heading}</h2>\n<ul>\n" + "\n".join(rows) + "\n</ul>")
    site_doc = next(d for d in docs if d.kind == "site")
    snippet = html.escape(alternate_links(site, site_doc))
    page = f"""<!DOCTYPE html>
<html lang="{html.escape(site.language)}" dir="{"rtl" if site.rtl else "ltr"}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(site.name)}: feeds</title>
{alternate_links(site, site_doc)}
<style>body{{font-family:Helvetica,Arial,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}
pre{{background:#f4f4f1;padding:.75rem;overflow-x:auto}}</style>
</head>
<body>
<h1>{html.escape(site.name)}: feeds</h1>
<p>Follow {html.escape(site.name)} in any news reader: copy a feed's address into Feedly,
NetNewsWire, Inoreader, Thunderbird or another reader. All feeds as one file for your reader:
<a href="{html.escape(site.feed_url("", "feeds.opml"))}">feeds.opml</a>.</p>
{chr(10).join(sections)}
<h2>For web developers</h2>
<p>Put these tags in the <code>&lt;head&gt;</code> of the site's pages so browsers and readers
find the feeds:</p>
<pre>{snippet}</pre>
</body>
</html>
"""
    return page.encode("utf-8")


def opml(site: Site, docs: list[PlannedDoc]) -> bytes:
    """OPML 2.0 listing every feed's RSS version, for importing into a reader at once."""
    outlines = []
    for kind, heading in KIND_HEADINGS.items():
        members = sorted((d for d in docs if d.kind == kind), key=lambda d: d.name.lower())
        if not members:
            continue
        inner = "\n".join(
            f'      <outline type="rss" text={quoteattr(d.title)} title={quoteattr(d.title)} '
            f"xmlUrl={quoteattr(site.feed_url(d.folder, 'rss.xml'))} "
            f"htmlUrl={quoteattr(site.url + '/')}/>"
            for d in members
        )
        outlines.append(f"    <outline text={quoteattr(heading)}>\n{inner}\n    </outline>")
    body = "\n".join(outlines)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">\n  <head>\n'
        f"    <title>{html.escape(site.name)} feeds</title>\n  </head>\n  <body>\n"
        f"{body}\n  </body>\n</opml>\n"
    ).encode()
