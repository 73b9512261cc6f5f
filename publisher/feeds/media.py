"""Learn the size and type of lead images, because an RSS enclosure must state both.

A file under ``[feeds] media_dir`` (the folder the site serves its media from) is measured on
disk, if its real path (links followed) stays inside that folder; any other URL gets one HTTP
HEAD request (``fetch.py``: never to an internal address), whose answer is cached in the
database (a failed or refused lookup is retried after a day). An image whose size cannot be
learnt gets no enclosure rather than a wrong one; the image still appears in the item's HTML
and in JSON Feed's ``image``.
"""

from __future__ import annotations

import http.client
import logging
import mimetypes
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..config import Settings
from ..store.base import now_utc
from ..store.protocols import MediaStore
from .fetch import Refused, head
from .model import Enclosure

log = logging.getLogger(__name__)
RETRY_AFTER = timedelta(days=1)


def _guess_mime(url: str) -> str:
    return mimetypes.guess_type(urlsplit(url).path)[0] or ""


def media_root(settings: Settings) -> Path | None:
    """The resolved ``[feeds] media_dir``, or None when it is not set."""
    media_dir = settings.feeds.media_dir
    return settings.path(media_dir).resolve() if media_dir is not None else None


def local_media_file(url: str, site_url: str, root: Path | None) -> Path | None:
    """The file under ``media_dir`` that ``url`` is served from (``site_url`` ends in "/"),
    or None; shared with the digest, which reads lead images' pixel sizes from the same files.

    "../" in the URL and symbolic links pointing out of the folder both resolve to a real path
    outside ``root`` (already resolved), and such a file is not used: its size would tell the
    world something about a file the site does not serve.
    """
    if root is None or not url.startswith(site_url):
        return None
    relative = unquote(urlsplit(url[len(site_url) :]).path).lstrip("/")
    real = Path(os.path.realpath(root / relative))
    if not real.is_relative_to(root) or real == root:
        return None
    return real


def _local_size(url: str, site_url: str, root: Path | None) -> int | None:
    """The size of the file under ``media_dir`` that ``url`` is served from, if there is one."""
    path = local_media_file(url, site_url, root)
    try:
        return path.stat().st_size if path is not None else None
    except OSError:
        return None


def _head(url: str, settings: Settings) -> tuple[int | None, str]:
    conf = settings.feeds
    try:
        return head(url, conf.media_timeout, conf.media_allow_private)
    except (Refused, OSError, ValueError, http.client.HTTPException) as exc:
        log.warning("cannot learn the size of %s: %s", url, exc)
        return None, ""


def resolve_enclosures(
    urls: set[str], settings: Settings, store: MediaStore
) -> dict[str, Enclosure]:
    """Enclosures for the image URLs whose size and type are known (or learnt now)."""
    found: dict[str, Enclosure] = {}
    root = media_root(settings)
    site_url = settings.site.url + "/"
    remote = []
    for url in sorted(urls):
        size = _local_size(url, site_url, root)
        if size is not None:
            if mime := _guess_mime(url):
                found[url] = Enclosure(url, size, mime)
        elif url.startswith(("http://", "https://")):
            remote.append(url)
    cached = store.media_info(remote)
    now = now_utc()
    for url in remote:
        info = cached.get(url)
        if info is None or (info.length is None and now - info.checked_at > RETRY_AFTER):
            if not settings.feeds.fetch_media:
                continue
            length, mime = _head(url, settings)
            mime = mime if mime.startswith(("image/", "video/", "audio/")) else _guess_mime(url)
            store.save_media_info(url, length, mime)
        else:
            length, mime = info.length, info.mime
        if length and mime:
            found[url] = Enclosure(url, length, mime)
    return found
