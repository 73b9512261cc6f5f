"""Learn the size and type of lead images, because an RSS enclosure must state both.

A file under ``[feeds] media_dir`` (the folder the site serves its media from) is measured on
disk; any other URL gets one HTTP HEAD request, whose answer is cached in the database (a failed
lookup is retried after a day). An image whose size cannot be learnt gets no enclosure rather
than a wrong one; the image still appears in the item's HTML and in JSON Feed's ``image``.
"""

from __future__ import annotations

import logging
import mimetypes
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..config import Settings
from ..store import Store
from ..store.base import now_utc
from .model import Enclosure

log = logging.getLogger(__name__)
RETRY_AFTER = timedelta(days=1)


def _guess_mime(url: str) -> str:
    return mimetypes.guess_type(urlsplit(url).path)[0] or ""


def _local_file(url: str, settings: Settings) -> Path | None:
    media_dir = settings.feeds.media_dir
    site = settings.site.url + "/"
    if media_dir is None or not url.startswith(site):
        return None
    relative = unquote(urlsplit(url).path).lstrip("/")
    base_path = urlsplit(site).path.strip("/")
    if base_path and relative.startswith(base_path + "/"):
        relative = relative[len(base_path) + 1 :]
    root = settings.path(media_dir).resolve()
    candidate = (root / relative).resolve()
    return candidate if candidate.is_relative_to(root) and candidate.is_file() else None


def _head(url: str, timeout: float) -> tuple[int | None, str]:
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "publisher"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            mime = (response.headers.get("Content-Type") or "").split(";")[0].strip()
            return (int(length) if length and length.isdigit() else None), mime
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("cannot learn the size of %s: %s", url, exc)
        return None, ""


def resolve_enclosures(urls: set[str], settings: Settings, store: Store) -> dict[str, Enclosure]:
    """Enclosures for the image URLs whose size and type are known (or learnt now)."""
    found: dict[str, Enclosure] = {}
    cached = store.media_info(urls)
    now = now_utc()
    for url in sorted(urls):
        if not url.startswith(("http://", "https://")):
            continue
        local = _local_file(url, settings)
        if local is not None:
            mime = _guess_mime(url)
            if mime:
                found[url] = Enclosure(url, local.stat().st_size, mime)
            continue
        info = cached.get(url)
        if info is None or (info.length is None and now - info.checked_at > RETRY_AFTER):
            if not settings.feeds.fetch_media:
                continue
            length, mime = _head(url, settings.feeds.media_timeout)
            mime = mime if mime.startswith(("image/", "video/", "audio/")) else _guess_mime(url)
            store.save_media_info(url, length, mime)
        else:
            length, mime = info.length, info.mime
        if length and mime:
            found[url] = Enclosure(url, length, mime)
    return found
