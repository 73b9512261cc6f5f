"""Templates: the text part carries every link, operators can override, notes render."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree
from lxml import html as lxml_html

from publisher.config import Settings, load_settings
from publisher.digest.compose import DigestComposer, make_renderer
from publisher.digest.render import Renderer
from publisher.jobs import open_store, run_collect
from publisher.models import Edition, Subscriber

from .conftest import write_config

WHEN = datetime(2024, 9, 20, 2, 0, tzinfo=UTC)


def personalised(settings: Settings) -> tuple[str, str]:
    with open_store(settings) as store:
        run_collect(settings, store)
        ids = [a.id for a in store.latest_articles(50) if a.id is not None]
        edition = Edition(id=5, kind="digest", cut_at=WHEN, article_ids=ids, variant="v")
        sender = DigestComposer(settings, store, make_renderer(settings))
        reader = Subscriber(id=2, email="ann@example.com", name="Ann")
        return sender.rendered(edition, reader).personalise(sender.personal_values(reader, WHEN))


def test_text_part_is_written_for_reading_and_has_every_link(settings: Settings) -> None:
    html, text = personalised(settings)
    links = {a.get("href") for a in lxml_html.fromstring(html).iter("a")}
    assert len(links) > 8
    for link in links:
        assert link in text, link
    assert "<" not in re.sub(r"Hello .*,", "", text)  # no markup in the text part
    assert "== POLITICS ==" in text


def test_html_layout_is_fluid_table_based_and_accessible(settings: Settings) -> None:
    html, _ = personalised(settings)
    tree = lxml_html.fromstring(html)
    # Fluid up to 600 px for every client; Outlook for Windows (no max-width) gets a fixed
    # 600 px table that only it reads, inside a conditional comment.
    for table in tree.xpath("//table[contains(@class, 'container')]"):
        assert table.get("width") == "100%" and "max-width:600px" in table.get("style")
    ghosts = [c.text for c in tree.iter(etree.Comment) if "[if mso]" in c.text]
    assert any('<table role="presentation" width="600"' in g for g in ghosts)
    assert not tree.xpath("//*[@width='600']")
    assert not [
        e for e in tree.iter() if re.search(r"(^|[; ])width:\s*600px", e.get("style") or "")
    ]
    for img in tree.iter("img"):
        assert img.get("alt") and img.get("width") and "height:auto" in img.get("style")
    assert (
        tree.xpath("//div[contains(@class, 'preheader')]")[0]
        .get("style")
        .startswith("display:none")
    )
    # Real headings: the masthead, each section (by its display name), each headline.
    assert [h.text_content() for h in tree.iter("h1")] == ["The Daily Dispatch"]
    assert [h.text for h in tree.iter("h2")][:2] == ["Politics", "Sports"]
    assert len(list(tree.iter("h3"))) == 6
    for heading in tree.xpath("//h1 | //h2 | //h3"):  # clients' default heading styles vary
        assert "margin:" in heading.get("style") and "font-size:" in heading.get("style")
    assert tree.xpath("//ul[contains(@class, 'highlights')]/li")
    assert tree.get("lang") == "en" and tree.get("dir") == "ltr"
    # Each "read" link names its story, so a screen reader's list of links is not 6 x "Read".
    reads = [a.text_content() for a in tree.xpath("//a[contains(@class, 'read-more')]")]
    titles = [h.text_content() for h in tree.iter("h3")]
    assert reads == [f"Read: {t}" for t in titles]


def test_images_keep_their_own_proportions(settings: Settings) -> None:
    """The two sample images are 1072 x 604 files in media/: shown 536 wide, 302 high."""
    html, _ = personalised(settings)
    images = list(lxml_html.fromstring(html).iter("img"))
    assert len(images) == 2
    for img in images:
        assert (img.get("width"), img.get("height")) == ("536", "302")


def test_operator_templates_override_the_built_in_ones(project: Path) -> None:
    custom = project / "my-templates"
    custom.mkdir()
    (custom / "digest.txt").write_text(
        "CUSTOM {{ site_name }} {{ personal.unsubscribe_url }}\n", encoding="utf-8"
    )
    settings = load_settings(
        write_config(project, extra='templates_dir = "my-templates"\n'), environ={}
    )
    html, text = personalised(settings)
    assert text.startswith("CUSTOM The Daily Dispatch https://news.example.com/unsubscribe/")
    assert "Read: " in html  # files not overridden come from the built-in set


def test_confirmation_and_unsubscribed_notes_render() -> None:
    renderer = Renderer()
    common = {
        "site_name": "The Daily Dispatch",
        "site_url": "https://news.example.com",
        "subject": "",
        "preheader": "",
        "name": "Ann <b>",
        "email": "ann@example.com",
    }
    subject, html, text = renderer.render_note(
        "confirm", {**common, "confirm_url": "https://news.example.com/confirm?token=t"}
    )
    assert subject == "Confirm your The Daily Dispatch digest subscription"
    assert "https://news.example.com/confirm?token=t" in html and "confirm?token=t" in text
    assert "Ann &lt;b&gt;" in html
    subject, html, text = renderer.render_note(
        "unsubscribed", {**common, "resubscribe_url": "https://news.example.com/subscribe"}
    )
    assert "unsubscribed" in subject and "ann@example.com" in text
