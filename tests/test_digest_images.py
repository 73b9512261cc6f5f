"""Lead images' sizes: read from the file header under media_dir, never guessed."""

from __future__ import annotations

import struct
from pathlib import Path

from publisher.config import load_settings
from publisher.digest.images import COLUMN, ImageBox, box, image_boxes, pixel_size

from .conftest import write_config


def png(width: int, height: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sII", 13, b"IHDR", width, height) + b"\x08\x02"


def jpeg(width: int, height: int) -> bytes:
    """SOI, an APP1 (EXIF-sized) segment to skip, then a baseline start-of-frame."""
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 3000) + b"E" * 3000
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x00" * 9
    return b"\xff\xd8" + app1 + sof


def webp_vp8x(width: int, height: int) -> bytes:
    return (
        b"RIFF\x00\x00\x00\x00WEBPVP8X" + b"\x0a\x00\x00\x00" + b"\x00" * 4
        + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    )  # fmt: skip


def test_sizes_from_each_format_header() -> None:
    assert pixel_size(png(1072, 604)) == (1072, 604)
    assert pixel_size(b"GIF89a" + struct.pack("<HH", 320, 200)) == (320, 200)
    assert pixel_size(jpeg(1600, 1200)) == (1600, 1200)
    assert pixel_size(webp_vp8x(2000, 3000)) == (2000, 3000)
    lossless = (
        b"RIFF\x00\x00\x00\x00WEBPVP8L" + b"\x00" * 5 + ((799) | (599 << 14)).to_bytes(4, "little")
    )
    assert pixel_size(lossless) == (800, 600)
    assert pixel_size(b"not an image at all, just text") is None
    assert pixel_size(png(0, 10)) is None
    assert pixel_size(b"\xff\xd8\xff\xe1\x00") is None  # cut short before any frame


def test_boxes_fit_the_column_in_the_images_own_proportions() -> None:
    assert box((1072, 604)) == ImageBox(COLUMN, 302)
    assert box((1200, 1600)) == ImageBox(COLUMN, 715)  # portrait stays portrait
    assert box((300, 200)) == ImageBox(300, 200)  # never enlarged past its own size
    assert box(None) == ImageBox(COLUMN, None)  # unknown: a width only


def test_image_boxes_read_files_under_media_dir_only(project: Path) -> None:
    (project / "media" / "tall.jpg").write_bytes(jpeg(600, 900))
    (project / "secret.png").write_bytes(png(10, 10))
    settings = load_settings(write_config(project), environ={})
    site = "https://news.example.com"
    boxes = image_boxes(
        [
            f"{site}/images/2024/09/floods.png",
            f"{site}/tall.jpg",
            f"{site}/../secret.png",  # outside media_dir: not read
            f"{site}/missing.png",
            "https://cdn.elsewhere.example/photo.jpg",
        ],
        settings,
    )
    assert boxes[f"{site}/images/2024/09/floods.png"] == ImageBox(536, 302)
    assert boxes[f"{site}/tall.jpg"] == ImageBox(536, 804)
    assert boxes[f"{site}/../secret.png"] == ImageBox(536, None)
    assert boxes[f"{site}/missing.png"] == ImageBox(536, None)
    assert boxes["https://cdn.elsewhere.example/photo.jpg"] == ImageBox(536, None)


def test_an_image_of_unknown_size_gets_the_column_width_and_no_height(project: Path) -> None:
    from lxml import html as lxml_html

    from publisher.models import Subscriber

    from .digesthelpers import NOW, parts
    from .test_digest_content import sample_edition

    composer, edition = sample_edition(load_settings(write_config(project), environ={}))
    store = composer.store
    article = next(a for a in store.articles_by_ids(edition.article_ids) if a.image_url)
    article.image_url, article.content_hash = "https://cdn.elsewhere.example/photo.jpg", ""
    store.upsert_articles([(article, article.guid)])  # type: ignore[attr-defined]
    html = parts(composer.message(edition, Subscriber(1, "a@example.com"), NOW).data)[1]
    images = {i.get("src"): i for i in lxml_html.fromstring(html).iter("img")}
    remote = images["https://cdn.elsewhere.example/photo.jpg"]
    assert remote.get("width") == "536" and remote.get("height") is None
    assert "height:auto" in remote.get("style").replace(" ", "")
    local = [i for src, i in images.items() if src.startswith("https://news.example.com/")]
    assert [(i.get("width"), i.get("height")) for i in local] == [("536", "302")]
