"""Every text colour of a digest is at least 4.5:1 against its background (WCAG AA), in the
light palette (the inlined styles: what a client without <style> shows) and in the dark one,
as applied by ``prefers-color-scheme`` and by Outlook's ``[data-ogsc]``/``[data-ogsb]``.

The colours are read from the rendered message, not from the stylesheet: inline ``style=`` and
``bgcolor`` first, then the rules left in its ``<style>`` block, applied with their selectors.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import cssutils
import pytest
from lxml import html as lxml_html
from lxml.html import HtmlElement

from publisher.config import Settings, load_settings
from publisher.digest.render import Renderer
from publisher.jobs import open_store
from publisher.models import Edition, Subscriber

from .conftest import write_config
from .digesthelpers import NOW, add_articles, parts, plan_for

cssutils.log.setLevel(logging.CRITICAL)
SKIP = {"head", "title", "style", "script"}


def relative_luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def rgb(value: str) -> tuple[int, int, int]:
    value = value.strip().lower()
    if value in ("white", "black"):
        return (255, 255, 255) if value == "white" else (0, 0, 0)
    if found := re.fullmatch(r"rgba?\((\d+),\s*(\d+),\s*(\d+)(?:,\s*[\d.]+)?\)", value):
        r, g, b = (int(x) for x in found.groups())
        return r, g, b
    hexa = value.lstrip("#")
    if len(hexa) == 3:
        hexa = "".join(c * 2 for c in hexa)
    assert re.fullmatch(r"[0-9a-f]{6}", hexa), f"not a colour: {value!r}"
    return int(hexa[0:2], 16), int(hexa[2:4], 16), int(hexa[4:6], 16)


def declarations(style: str) -> dict[str, str]:
    found = {}
    for item in style.split(";"):
        name, _, value = item.partition(":")
        if value.strip():
            found[name.strip().lower()] = value.replace("!important", "").strip()
    return found


class Palette:
    """The colour and background declared on each element once the given rules are applied."""

    def __init__(self, tree: HtmlElement, rules: list[tuple[str, str, str]]) -> None:
        self.tree = tree
        self.declared: dict[HtmlElement, dict[str, str]] = {}
        for element in tree.iter():
            if isinstance(element.tag, str):
                self.declared[element] = declarations(element.get("style") or "")
                if element.get("bgcolor"):
                    self.declared[element].setdefault("background-color", element.get("bgcolor"))
        for selector, prop, value in rules:  # all !important: they beat inline styles
            for element in tree.cssselect(selector):
                self.declared[element][prop] = value

    def inherited(self, element: HtmlElement, prop: str) -> str:
        for node in (element, *element.iterancestors()):
            value = self.declared[node].get(prop) or self.declared[node].get(
                "background" if prop == "background-color" else prop
            )
            if value and value not in ("transparent", "inherit"):
                return value
        raise AssertionError(f"no {prop} for <{element.tag}> {element.text_content()[:40]!r}")

    def hidden(self, element: HtmlElement) -> bool:
        return any(
            self.declared[n].get("display") == "none" for n in (element, *element.iterancestors())
        )

    def text_elements(self) -> Iterator[HtmlElement]:
        """Elements that hold visible text themselves (their .text, or a child's tail)."""
        for element in self.declared:
            if element.tag in SKIP or any(a.tag in SKIP for a in element.iterancestors()):
                continue
            own = (element.text or "") + "".join(c.tail or "" for c in element)
            if own.strip() and not self.hidden(element):
                yield element

    def worst(self) -> tuple[float, str]:
        """The lowest text contrast and where it is."""
        results = []
        for element in self.text_elements():
            ratio = contrast(
                rgb(self.inherited(element, "color")),
                rgb(self.inherited(element, "background-color")),
            )
            label = f"<{element.tag} class={element.get('class')}> {element.text_content()[:30]!r}"
            results.append((ratio, label))
        assert len(results) >= 5
        return min(results)


def dark_rules(document: str, kind: str) -> list[tuple[str, str, str]]:
    """(selector, property, value) of the dark palette in the message's own <style> blocks:
    ``media`` takes the prefers-color-scheme rules, ``outlook`` the [data-ogs*] ones."""
    tree = lxml_html.fromstring(document)
    sheet = cssutils.parseString("\n".join(s.text or "" for s in tree.iter("style")))
    rules: list[tuple[str, str, str]] = []

    def take(style_rules: object, keep: bool) -> None:
        for rule in style_rules:  # type: ignore[attr-defined]
            if rule.type != rule.STYLE_RULE:
                continue
            for selector in rule.selectorList:
                text = selector.selectorText
                if keep == text.startswith("[data-ogs"):
                    for prop in rule.style:
                        assert prop.priority == "important", f"{text} {prop.name} needs !important"
                        rules.append((text, prop.name, prop.value))

    for rule in sheet.cssRules:
        dark = rule.type == rule.MEDIA_RULE and "prefers-color-scheme: dark" in rule.media.mediaText
        if kind == "media" and dark:
            take(rule.cssRules, keep=False)
    if kind == "outlook":
        take(sheet.cssRules, keep=True)
    assert rules, f"no {kind} dark rules found"
    return rules


def palettes(document: str) -> dict[str, Palette]:
    light = lxml_html.fromstring(document)
    media = lxml_html.fromstring(document)
    outlook = lxml_html.fromstring(document)
    outlook.set("data-ogsc", "")  # what Outlook.com marks in dark mode
    outlook.set("data-ogsb", "")
    return {
        "light": Palette(light, []),
        "dark (prefers-color-scheme)": Palette(media, dark_rules(document, "media")),
        "dark (Outlook [data-ogsc])": Palette(outlook, dark_rules(document, "outlook")),
    }


@pytest.fixture
def long_digest(project: Path) -> str:
    """The HTML of a 100-article digest: full articles, headline links, every footer line."""
    config = write_config(
        project, extra="reading_time = true\n", postal_address="1 Press Lane, Karachi"
    )
    settings = load_settings(config, environ={})
    with open_store(settings) as store:
        reader, _ = store.add_subscriber("ann@example.com", "Ann Reader")
        add_articles(store, 100)
        planned = plan_for(settings, store, reader)
        _, html = parts(planned.composer.message(planned.edition, reader, NOW).data)
    assert "headline-link" in html and "image-credit" in html and "full-edition" in html
    return html


def notes(settings: Settings) -> list[str]:
    """The other mails built on base.html: the "nothing new" note and the confirmation."""
    from publisher.digest.compose import DigestComposer, make_renderer

    with open_store(settings) as store:
        composer = DigestComposer(settings, store, make_renderer(settings))
        empty = Edition(id=3, kind="note", cut_at=NOW, article_ids=[], variant="nothing-new")
        reader = Subscriber(id=1, email="ann@example.com", name="Ann")
        _, note = parts(composer.message(empty, reader, NOW).data)
    _, confirm, _ = Renderer().render_note(
        "confirm",
        {
            "site_name": "The Daily Dispatch",
            "site_url": "https://news.example.com",
            "name": "Ann",
            "email": "ann@example.com",
            "confirm_url": "https://news.example.com/confirm/t",
        },
    )
    return [note, confirm]


def test_every_text_colour_of_a_digest_reaches_4_5_to_1_in_both_palettes(
    long_digest: str,
) -> None:
    for name, palette in palettes(long_digest).items():
        ratio, where = palette.worst()
        assert ratio >= 4.5, f"{name}: {ratio:.2f}:1 at {where}"


def test_notes_keep_the_same_contrast(settings: Settings) -> None:
    for document in notes(settings):
        for name, palette in palettes(document).items():
            ratio, where = palette.worst()
            assert ratio >= 4.5, f"{name}: {ratio:.2f}:1 at {where}"


def test_the_masthead_rule_stays_visible_in_both_palettes(long_digest: str) -> None:
    """The rule under the masthead is 3:1 or more against the card (WCAG non-text contrast)."""
    for name, palette in palettes(long_digest).items():
        masthead = palette.tree.xpath("//td[contains(@class, 'masthead')]")[0]
        border = (
            palette.declared[masthead].get("border-bottom-color")
            or (palette.declared[masthead]["border-bottom"].split()[-1])
        )
        ratio = contrast(rgb(border), rgb(palette.inherited(masthead, "background-color")))
        assert ratio >= 3, f"{name}: masthead rule {ratio:.2f}:1"


def test_the_contrast_check_catches_a_low_contrast_colour(long_digest: str) -> None:
    """The check can fail: the old dark palette's bylines (#57606a on #1c1c1c) are caught."""
    darker = long_digest.replace("color: #aab2bb !important", "color: #57606a !important")
    ratio, where = palettes(darker)["dark (prefers-color-scheme)"].worst()
    assert ratio < 3, where
