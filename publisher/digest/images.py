"""Lead images' pixel sizes, so every ``<img>`` in a digest states its own proportions.

Mail clients lay a message out before its images arrive (and Outlook for Windows sizes images
only by their ``width``/``height`` attributes), so a digest that gave every image the same
fixed box squashed or stretched most of them. An image served from ``[feeds] media_dir`` is
measured from its file header (PNG, GIF, JPEG, WebP; a few bytes, no image library); an image
whose size is unknown gets only a width, and clients keep its own ratio.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from ..config import Settings
from ..feeds.media import local_media_file, media_root

COLUMN = 536  # the text column of templates/email: the 600 px card minus 32 px on each side
_HEAD_BYTES = 256 * 1024  # a JPEG's size comes after its EXIF block, which can be this long
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


@dataclass(frozen=True)
class ImageBox:
    """The ``width`` and ``height`` attributes of an image in the text column."""

    width: int
    height: int | None  # None: size unknown, leave the height to the client


def box(size: tuple[int, int] | None) -> ImageBox:
    """The column-wide box of an image of ``size`` pixels, never wider than the image."""
    if size is None:
        return ImageBox(COLUMN, None)
    width, height = size
    shown = min(COLUMN, width)
    return ImageBox(shown, max(1, round(height * shown / width)))


def pixel_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from the first bytes of a PNG, GIF, WebP or JPEG file; None otherwise
    (another format, or a file cut short)."""
    size: tuple[int, int] | None = None
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            size = struct.unpack(">II", head[16:24])
        elif head[:6] in (b"GIF87a", b"GIF89a"):
            size = struct.unpack("<HH", head[6:10])
        elif head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            size = _webp(head)
        elif head.startswith(b"\xff\xd8"):
            size = _jpeg(head)
    except struct.error:
        return None
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return size


def _webp(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        bits = struct.unpack("<I", head[21:25])[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(head) >= 30:
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return None


def _jpeg(head: bytes) -> tuple[int, int] | None:
    """Walk the JPEG's segments to the first start-of-frame, which holds the size."""
    at = 2
    while at + 9 <= len(head):
        if head[at] != 0xFF:
            return None
        marker = head[at + 1]
        if marker == 0xFF:  # padding
            at += 1
        elif marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", head[at + 5 : at + 9])
            return width, height
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            at += 2
        else:
            at += 2 + struct.unpack(">H", head[at + 2 : at + 4])[0]
    return None


def image_boxes(urls: Iterable[str], settings: Settings) -> dict[str, ImageBox]:
    """The box of each lead image URL: measured when the file is under ``media_dir``."""
    root = media_root(settings)
    site_url = settings.site.url + "/"
    boxes = {}
    for url in set(urls):
        path = local_media_file(url, site_url, root)
        size = None
        if path is not None:
            try:
                with open(path, "rb") as file:
                    size = pixel_size(file.read(_HEAD_BYTES))
            except OSError:
                size = None
        boxes[url] = box(size)
    return boxes
