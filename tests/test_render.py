"""Templates: the text part carries every link, operators can override, notes render."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

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
        return sender.rendered(edition).personalise(sender.personal_values(reader, WHEN))


def test_text_part_is_written_for_reading_and_has_every_link(settings: Settings) -> None:
    html, text = personalised(settings)
    links = {a.get("href") for a in lxml_html.fromstring(html).iter("a")}
    assert len(links) > 8
    for link in links:
        assert link in text, link
    assert "<" not in re.sub(r"Hello .*,", "", text)  # no markup in the text part
    assert "== POLITICS ==" in text


def test_html_layout_is_table_based_and_accessible(settings: Settings) -> None:
    html, _ = personalised(settings)
    tree = lxml_html.fromstring(html)
    assert tree.xpath("//table[@width='600']")
    for img in tree.iter("img"):
        assert img.get("alt") and img.get("width") and img.get("height")
    assert (
        tree.xpath("//div[contains(@class, 'preheader')]")[0]
        .get("style")
        .startswith("display:none")
    )
    assert [h.text for h in tree.iter("h2")]  # sections have headings
    assert tree.xpath("//ul[contains(@class, 'highlights')]/li")


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
    assert "Read the full story" in html  # files not overridden come from the built-in set


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
