"""Digests in a real browser: Debian's Chromium, driven by Playwright.

Three digests (the six sample articles, 100 long articles, a right-to-left Urdu one) are
opened at 320, 375, 414, 800 and 1280 px, light and dark, and again with images blocked. At
every width nothing scrolls sideways, no text runs out of its table cell, every image keeps
its own aspect ratio, and every text colour is 4.5:1 or more against the background Chromium
actually paints. Screenshots are kept: in ``$SCREENSHOTS_DIR`` when set (``make screenshots``
sets ``build/screenshots``), else in the test's temporary folder.

Images are served from the sample ``media/`` folder; every other request is refused, so the
test needs no network.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from publisher.config import load_settings
from publisher.jobs import open_store, run_collect

from .conftest import ROOT, write_config
from .digesthelpers import NOW, add_articles, parts, plan_for
from .test_digest_contrast import contrast, rgb

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
WIDTHS = [320, 375, 414, 800, 1280]
SCHEMES = ["light", "dark"]
PAINTED = {"light": "rgb(31, 35, 40)", "dark": "rgb(240, 240, 240)"}  # headlines, as drawn

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"{CHROMIUM} is not installed (Debian: apt-get install chromium)", allow_module_level=True
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is in the test extras")

# Text that leaves its cell or the window: each text node's line boxes against the nearest
# <td>'s box and the viewport.
OVERFLOWING_TEXT = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const cell = el.closest('td');
    if (!cell || el.getClientRects().length === 0) continue;
    const box = cell.getBoundingClientRect();
    for (const node of el.childNodes) {
      if (node.nodeType !== Node.TEXT_NODE || !node.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const r of range.getClientRects()) {
        const outside = r.left < Math.max(box.left, 0) - 1
          || r.right > Math.min(box.right, window.innerWidth) + 1;
        if (r.width > 0 && outside) {
          bad.push(`${el.tagName}.${el.className}: ${node.textContent.trim().slice(0, 40)}`);
        }
      }
    }
  }
  return bad;
}"""

IMAGE_RATIOS = """() => [...document.images].map(img => ({
  src: img.src, loaded: img.complete && img.naturalWidth > 0,
  natural: img.naturalWidth / img.naturalHeight,
  shown: img.getBoundingClientRect().width / img.getBoundingClientRect().height,
  width: img.getBoundingClientRect().width,
}))"""

# The colour of each visible text and the first opaque background behind it, as painted.
TEXT_COLOURS = """() => {
  const out = [];
  const opaque = c => c && c !== 'transparent' && !/rgba\\(.*,\\s*0\\)$/.test(c);
  for (const el of document.querySelectorAll('body *')) {
    if (el.getClientRects().length === 0) continue;
    const own = [...el.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    if (!own) continue;
    let bg = null;
    for (let node = el; node && !bg; node = node.parentElement) {
      const c = getComputedStyle(node).backgroundColor;
      if (opaque(c)) bg = c;
    }
    out.push({where: `${el.tagName}.${el.className}: ${el.textContent.trim().slice(0, 30)}`,
              color: getComputedStyle(el).color, background: bg || 'rgb(255, 255, 255)'});
  }
  return out;
}"""


@dataclass
class Digest:
    name: str
    path: Path
    articles: int


def write_digest(root: Path, name: str, language: str, generated: int) -> Digest:
    project = root / name
    shutil.copytree(ROOT / "media", project / "media")
    if generated:
        (project / "content").mkdir()
    else:
        shutil.copytree(ROOT / "content", project / "content")
    config = write_config(
        project,
        extra="reading_time = true\n",
        language=language,
        postal_address="1 Press Lane, Karachi",
    )
    settings = load_settings(config, environ={})
    with open_store(settings) as store:
        reader, _ = store.add_subscriber("ann@example.com", "Ann Reader")
        if generated:
            add_articles(store, generated, language=language)
        else:
            run_collect(settings, store)
        planned = plan_for(settings, store, reader)
        _, html = parts(planned.composer.message(planned.edition, reader, NOW).data)
        count = len(planned.edition.article_ids)
    path = project / "digest.html"
    path.write_text(html, encoding="utf-8")
    return Digest(name, path, count)


@pytest.fixture(scope="module")
def digests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Digest]:
    root = tmp_path_factory.mktemp("digests")
    return {
        "short": write_digest(root, "short", "en", 0),
        "long": write_digest(root, "long", "en", 100),
        "rtl": write_digest(root, "rtl", "ur", 12),
    }


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def serve(route: Any, images: bool) -> None:
    """Images from media/ (unless blocked); the digest file itself; nothing else."""
    url = route.request.url
    if url.startswith("file:"):
        route.continue_()
    elif images and url.startswith("https://news.example.com/images/"):
        route.fulfill(path=str(ROOT / "media" / url.removeprefix("https://news.example.com/")))
    else:
        route.abort()


def open_page(browser: Any, digest: Digest, images: bool) -> Any:
    context = browser.new_context(viewport={"width": 375, "height": 900})
    page = context.new_page()
    page.route("**/*", lambda route: serve(route, images))
    page.goto(digest.path.as_uri())
    page.wait_for_load_state("load")
    return page


def check_layout(page: Any, where: str) -> None:
    scroll, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"{where}: scrolls sideways ({scroll} > {inner})"
    overflowing = page.evaluate(OVERFLOWING_TEXT)
    assert not overflowing, f"{where}: text outside its cell: {overflowing[:5]}"


@pytest.mark.parametrize("name", ["short", "long", "rtl"])
def test_digest_in_chromium_at_every_width_light_and_dark(
    browser: Any, digests: dict[str, Digest], shots: Path, name: str
) -> None:
    digest = digests[name]
    page = open_page(browser, digest, images=True)
    try:
        if name == "rtl":
            assert (
                page.evaluate("getComputedStyle(document.querySelector('h3')).direction") == "rtl"
            )
        for scheme in SCHEMES:
            page.emulate_media(color_scheme=scheme)
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                where = f"{name} at {width} px, {scheme}"
                check_layout(page, where)
                images = page.evaluate(IMAGE_RATIOS)
                assert images, f"{where}: no images to check"
                for image in images:
                    assert image["loaded"], f"{where}: {image['src']} did not load"
                    assert image["width"] <= width
                    assert abs(image["shown"] / image["natural"] - 1) < 0.02, f"{where}: {image}"
                colours = page.evaluate(TEXT_COLOURS)
                for text in colours:
                    ratio = contrast(rgb(text["color"]), rgb(text["background"]))
                    assert ratio >= 4.5, f"{where}: {ratio:.2f}:1 at {text['where']}"
                headline = next(c for c in colours if c["where"].startswith("A.article-title"))
                assert headline["color"] == PAINTED[scheme], f"{where}: not the {scheme} palette"
                page.screenshot(path=str(shots / f"{name}-{width}-{scheme}.png"))
        page.emulate_media(color_scheme="light")
        page.set_viewport_size({"width": 375, "height": 900})
        if name == "short":
            page.screenshot(path=str(shots / "short-375-light-full.png"), full_page=True)
    finally:
        page.context.close()


@pytest.mark.parametrize("name", ["short", "long", "rtl"])
def test_digest_with_images_blocked_still_fits(
    browser: Any, digests: dict[str, Digest], shots: Path, name: str
) -> None:
    page = open_page(browser, digests[name], images=False)
    try:
        for width in (320, 375, 800):
            page.set_viewport_size({"width": width, "height": 900})
            check_layout(page, f"{name} at {width} px, images blocked")
            for image in page.evaluate(IMAGE_RATIOS):
                assert not image["loaded"] and image["width"] <= width
        page.screenshot(path=str(shots / f"{name}-375-noimages.png"))
    finally:
        page.context.close()
