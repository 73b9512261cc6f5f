"""The generated feeds and digest archive, served from their folders.

Starlette's ``StaticFiles`` does the careful parts (no path outside the folder, symlinks out
refused, ``ETag`` and ``Last-Modified`` from the file, 304 for ``If-None-Match`` and
``If-Modified-Since``); feeds are rewritten only when their bytes change, so those
validators stay stable and readers' polls cost a 304. Here only the content types are
decided: feed readers get each format's own type, while a browser (which asks for HTML)
gets RSS and Atom as XML so that ``feed.xsl`` can render them as a page.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

TYPES = {
    "feed.json": "application/feed+json",
    "rss.xml": "application/rss+xml",
    ".xml": "application/atom+xml",  # atom.xml, archives (<YYYY-MM>.xml) and the digest feed
    ".xsl": "text/xsl",
    ".opml": "text/x-opml",
    ".html": "text/html",
}


def media_type(name: str, accept: str) -> str | None:
    """The content type for a file served from the feeds or archive folder."""
    found = TYPES.get(name) or TYPES.get(os.path.splitext(name)[1])
    if found is None:
        return None
    if found.endswith("+xml") and "text/html" in accept:
        found = "application/xml"  # a browser: let the XSL stylesheet make it a page
    return f"{found}; charset=utf-8"


class FeedFiles(StaticFiles):
    """A folder of generated files, with feed content types (``index.html`` for folders)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        super().__init__(directory=directory, html=True)

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        accept = Headers(scope=scope).get("accept", "")
        chosen = media_type(os.path.basename(full_path), accept)
        if chosen is not None and response.status_code != 304:
            response.headers["content-type"] = chosen
            response.media_type = chosen
        response.headers["vary"] = "Accept, Accept-Encoding"
        response.headers.setdefault("cache-control", "public, max-age=300")
        return response
