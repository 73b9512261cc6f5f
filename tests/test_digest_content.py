"""What a digest says: the size budget, sections, preheader, subject, weekly editions, each
reader's time zone, reading time, the footer, language and direction.

Digests here go through the real planner and composer on a real SQLite store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import html as lxml_html

from publisher.config import Settings, load_settings
from publisher.digest import render
from publisher.digest.compose import DigestComposer, make_renderer
from publisher.digest.content import edition_labels, fit_subject, preheader, reason, text_direction
from publisher.digest.render import Renderer, digest_context
from publisher.jobs import open_store, run_collect, run_plan
from publisher.models import Article, Edition, Subscriber

from .conftest import write_config
from .digesthelpers import NOW, add_articles, long_article, parse, parts, plan_for

KARACHI = ZoneInfo("Asia/Karachi")


def configured(project: Path, extra: str = "", **site: str) -> Settings:
    return load_settings(write_config(project, extra=extra, **site), environ={})


def sample_edition(settings: Settings) -> tuple[DigestComposer, Edition]:
    """The sample content's six articles as one edition (cut at 07:00 in Karachi)."""
    store = open_store(settings)
    run_collect(settings, store)
    ids = [a.id for a in store.latest_articles(50) if a.id is not None]
    edition = Edition(id=9, kind="digest", cut_at=NOW, article_ids=ids, variant="sample")
    return DigestComposer(settings, store, make_renderer(settings)), edition


def html_of(composer: DigestComposer, edition: Edition, reader: Subscriber) -> str:
    return parts(composer.message(edition, reader, NOW).data)[1]


# -- the size budget ----------------------------------------------------------------------------
def test_100_long_articles_stay_under_the_budget_with_the_footer_and_every_article(
    project: Path,
) -> None:
    settings = configured(project, postal_address="1 Press Lane, Karachi")
    with open_store(settings) as store:
        reader, _ = store.add_subscriber("ann@example.com", "Ann Reader")
        add_articles(store, 100)
        planned = plan_for(settings, store, reader)
        articles = store.articles_by_ids(planned.edition.article_ids)
        message = planned.composer.message(planned.edition, reader, NOW)
        text, html = parts(message.data)
        assert len(articles) == 100  # the default max_articles: all of them are due now
        assert len(html.encode("utf-8")) < 90_000
        # Every due article is there, in full or as a headline link, and no other.
        tree = lxml_html.fromstring(html)
        full = [a.get("href") for a in tree.xpath("//h3/a")]
        linked = [a.get("href") for a in tree.xpath("//a[contains(@class, 'headline-link')]")]
        assert 10 < len(full) < 100 and len(full) + len(linked) == 100
        assert sorted(full + linked) == sorted(a.link for a in articles)
        assert full == [a.link for a in articles_in_order(articles)][: len(full)]
        for article in articles:
            assert article.link in text
        # The rest is a link away, and the footer survived.
        edition_page = tree.xpath("//a[text()='Read the full edition']")[0].get("href")
        assert edition_page.endswith(f"/{planned.edition.variant}.html")
        footer = tree.xpath("//td[contains(@class, 'footer')]")[0].text_content()
        assert "Unsubscribe" in footer and "1 Press Lane, Karachi" in footer
        assert tree.xpath("//a[starts-with(@href, 'https://news.example.com/unsubscribe/')]")
        # The articles shown as links were delivered: nothing is owed again.
        assert run_plan(settings, store, NOW.replace(day=21)) == []
    # The archive page, the "full edition", has every article in full.
    page = (project / "archive" / "2024-09-20" / f"{planned.edition.variant}.html").read_text()
    assert len(lxml_html.fromstring(page).xpath("//h3")) == 100
    assert "1 Press Lane, Karachi" in page and "/unsubscribe/" not in page


def articles_in_order(articles: list[Article]) -> list[Article]:
    from publisher.digest.content import arrange, in_order

    return in_order(arrange(articles, {}))


def test_a_smaller_budget_shows_fewer_articles_in_full(project: Path) -> None:
    settings = configured(project, extra="html_budget_kb = 40\n")
    with open_store(settings) as store:
        reader, _ = store.add_subscriber("ann@example.com", "Ann")
        add_articles(store, 30)
        planned = plan_for(settings, store, reader)
        html = html_of(planned.composer, planned.edition, reader)
    tree = lxml_html.fromstring(html)
    assert len(html.encode("utf-8")) < 40_000
    assert 0 < len(tree.xpath("//h3")) < 30
    assert len(tree.xpath("//h3")) + len(tree.xpath("//a[@class='headline-link']")) == 30


def test_a_digest_within_budget_is_inlined_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The usual case costs one premailer run per variant, whatever the readers' zones."""
    calls = []
    real = render.inline_css
    monkeypatch.setattr(render, "inline_css", lambda doc: calls.append(1) or real(doc))
    composer, edition = sample_edition(settings)
    for zone in ("Asia/Karachi", "America/New_York", "Europe/London", None):
        html_of(composer, edition, Subscriber(1, "a@example.com", "A", timezone=zone))
    assert len(calls) == 1
    tree = lxml_html.fromstring(html_of(composer, edition, Subscriber(1, "a@example.com")))
    assert len(tree.xpath("//h3")) == 6 and not tree.xpath("//a[@class='headline-link']")


# -- sections, preheader, subject -------------------------------------------------------------
def test_sections_show_their_configured_names_in_the_configured_order(project: Path) -> None:
    extra = '[digest.sections]\nnational = "Pakistan"\nBusiness = "Business & Economy"\n'
    composer, edition = sample_edition(configured(project, extra=extra))
    html = html_of(composer, edition, Subscriber(1, "a@example.com"))
    headings = [h.text_content() for h in lxml_html.fromstring(html).iter("h2")]
    # Listed ones first, as listed; the others by their newest article, with a capital.
    assert headings == ["Pakistan", "Business & Economy", "Politics", "Sports", "Technology"]


def test_preheader_is_the_top_storys_standfirst_not_the_subject(settings: Settings) -> None:
    composer, edition = sample_edition(settings)
    data = composer.message(edition, Subscriber(1, "a@example.com"), NOW).data
    html = parts(data)[1]
    hidden = lxml_html.fromstring(html).xpath("//div[@class='preheader']")[0].text_content()
    top = "The Senate began debating the supplementary budget on Friday as opposition senators"
    assert hidden.startswith(top)
    assert str(parse(data)["Subject"]).split("…")[0] not in hidden


def test_preheader_falls_back_to_a_highlight_then_other_headlines() -> None:
    def article(title: str, summary: str = "", highlights: tuple[str, ...] = ()) -> Article:
        return Article("k", "s", title, "https://x.example/", NOW, summary=summary,
                       highlights=list(highlights))  # fmt: skip

    assert preheader([article("A", highlights=("First point.",))]) == "First point."
    assert preheader([article("A"), article("B"), article("C")]) == "Also in this edition: B; C"
    assert preheader([article("A")]) == ""


def test_subject_puts_the_headline_first_within_60_characters(settings: Settings) -> None:
    composer, edition = sample_edition(settings)
    subject = str(
        parse(composer.message(edition, Subscriber(1, "a@b.example"), NOW).data)["Subject"]
    )
    assert subject == "Senate Opens Debate on Supplementary Budget… (20 September)"
    assert len(subject) <= 60
    # A headline that fits is kept whole; one that would be cut below 20 characters is too.
    assert (
        fit_subject("\0 (20 September)", "Short headline", "\0") == "Short headline (20 September)"
    )
    long_site = "The Daily Dispatch of the Northern Provinces and Islands:"
    assert fit_subject(f"{long_site} \0", "A headline of forty characters, roughly", "\0").endswith(
        "A headline of forty characters, roughly"
    )


def test_a_custom_subject_keeps_its_own_words(project: Path) -> None:
    settings = configured(project, extra='subject = "{site}: {count} stories, {date}"\n')
    composer, edition = sample_edition(settings)
    subject = str(
        parse(composer.message(edition, Subscriber(1, "a@b.example"), NOW).data)["Subject"]
    )
    assert subject == "The Daily Dispatch: 6 stories, Friday, 20 September 2024"


# -- weekly editions and each reader's zone ---------------------------------------------------
def test_a_weekly_reader_gets_a_weekly_subject_and_masthead(settings: Settings) -> None:
    composer, edition = sample_edition(settings)
    weekly = Subscriber(2, "w@example.com", "W", frequency="weekly")
    data = composer.message(edition, weekly, NOW).data
    text, html = parts(data)
    assert str(parse(data)["Subject"]).endswith("(Week of 16 September)")
    masthead = lxml_html.fromstring(html).xpath("//p[@class='masthead-date']")[0].text_content()
    assert masthead.startswith("Week of 16 September 2024")
    assert "Week of 16 September 2024" in text
    daily = parts(composer.message(edition, Subscriber(3, "d@example.com"), NOW).data)[1]
    assert "Week of" not in daily and "Friday, 20 September 2024" in daily


def test_week_labels_look_back_on_the_week_that_ended() -> None:
    monday_morning = datetime(2024, 9, 23, 2, 0, tzinfo=UTC)  # 07:00 Monday in Karachi
    assert edition_labels(monday_morning, KARACHI, weekly=True)[1] == "Week of 16 September"
    assert edition_labels(NOW, KARACHI, weekly=True) == (
        "Week of 16 September 2024",
        "Week of 16 September",
    )
    assert edition_labels(NOW, KARACHI, weekly=False) == (
        "Friday, 20 September 2024",
        "20 September",
    )


def test_article_times_and_the_date_are_in_each_readers_own_zone(settings: Settings) -> None:
    composer, edition = sample_edition(settings)
    karachi = parts(composer.message(edition, Subscriber(1, "k@example.com"), NOW).data)
    york_reader = Subscriber(2, "n@example.com", timezone="America/New_York")
    york = parts(composer.message(edition, york_reader, NOW).data)
    # The Senate story was published at 11:20 in Karachi, 02:20 in New York.
    for part in karachi:
        assert "September 20, 2024 11:20 AM PKT" in part and "EDT" not in part
        assert "Friday, 20 September 2024" in part
    for part in york:
        assert "September 20, 2024 2:20 AM EDT" in part and "PKT" not in part
        assert "Thursday, 19 September 2024" in part  # 07:00 in Karachi is 22:00 there


def test_reading_time_is_shown_only_when_configured(project: Path) -> None:
    plain = html_of(*sample_edition(configured(project)), Subscriber(1, "a@example.com"))
    assert "min read" not in plain
    settings = configured(project, extra="reading_time = true\n")
    with open_store(settings) as store:
        reader, _ = store.add_subscriber("ann@example.com", "Ann")
        add_articles(store, 2)
        planned = plan_for(settings, store, reader)
        text, html = parts(planned.composer.message(planned.edition, reader, NOW).data)
    words = len(long_article(0).content_html.split())  # about 1,100 words at 230 a minute
    assert f"{round(words / 230)} min read" in html and "5 min read" in text


# -- the footer ---------------------------------------------------------------------------------
def test_footer_says_why_since_when_and_offers_every_way_out_and_in(project: Path) -> None:
    settings = configured(project, postal_address="1 Press Lane\\nKarachi 74200")
    composer, edition = sample_edition(settings)
    reader = Subscriber(
        7, "ann@example.com", "Ann", consent_at=datetime(2026, 9, 3, 20, 0, tzinfo=UTC),
        consent_method="web", timezone="Asia/Karachi",
    )  # fmt: skip
    text, html = parts(composer.message(edition, reader, NOW).data)
    why = (
        "You get this because you subscribed to The Daily Dispatch on 4 September 2026 "
        "through our website."  # 20:00 UTC on the 3rd is the 4th in Karachi
    )
    tree = lxml_html.fromstring(html)
    footer = tree.xpath("//td[contains(@class, 'footer')]")[0]
    links = {a.text_content(): a.get("href") for a in footer.iter("a")}
    assert why in footer.text_content() and why in text
    assert links["Unsubscribe"].startswith("https://news.example.com/unsubscribe/")
    assert links["Change your preferences"].startswith("https://news.example.com/preferences/")
    assert links["Subscribe"] == "https://news.example.com/subscribe"
    assert "The Daily Dispatch · 1 Press Lane, Karachi 74200" in footer.text_content()
    assert "The Daily Dispatch, 1 Press Lane, Karachi 74200" in text
    for link in links.values():
        assert link in text


def test_reason_wording_for_every_consent_record() -> None:
    on = datetime(2026, 9, 3, 9, 0, tzinfo=UTC)
    assert reason("D", on, "cli", KARACHI) == (
        "You get this because our newsroom added you to the D digest on 3 September 2026."
    )
    assert reason("D", on, "import", KARACHI) == (
        "You get this because you subscribed to D on 3 September 2026 "
        "(imported from our earlier mailing list)."
    )
    assert reason("D", None, "", KARACHI) == "You get this because you subscribed to D."
    assert reason("D", None, "web", KARACHI) == (
        "You get this because you subscribed to D through our website."
    )


def test_confirmation_footer_carries_the_postal_address(project: Path) -> None:
    settings = configured(project, postal_address="1 Press Lane, Karachi")
    renderer = make_renderer(settings)
    _, html, text = renderer.render_note(
        "confirm",
        {"site_name": "D", "site_url": "https://news.example.com", "name": "", "email": "a@b.c",
         "confirm_url": "https://news.example.com/confirm/t"},
    )  # fmt: skip
    assert "1 Press Lane, Karachi" in html and "1 Press Lane, Karachi" in text
    _, bare, _ = Renderer().render_note(
        "confirm",
        {"site_name": "D", "site_url": "https://x.example", "name": "", "email": "a@b.c",
         "confirm_url": "https://x.example/confirm/t"},
    )  # fmt: skip
    assert "Press Lane" not in bare


# -- language and direction --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("language", "direction"),
    [
        ("ur", "rtl"),
        ("ar-EG", "rtl"),
        ("he", "rtl"),
        ("fa_IR", "rtl"),
        ("en", "ltr"),
        ("de", "ltr"),
    ],
)
def test_direction_follows_the_language(language: str, direction: str) -> None:
    assert text_direction(language) == direction


def test_an_urdu_site_sends_right_to_left_digests(project: Path) -> None:
    settings = configured(project, language="ur")
    with open_store(settings) as store:
        reader, _ = store.add_subscriber("ann@example.com", "Ann")
        add_articles(store, 3, language="ur")
        planned = plan_for(settings, store, reader)
        html = html_of(planned.composer, planned.edition, reader)
        public = planned.composer.renderer.render_public(
            digest_context(settings, store, planned.edition), "{headline}"
        ).html
    for document in (html, public):
        tree = lxml_html.fromstring(document)
        assert (tree.get("lang"), tree.get("dir")) == ("ur", "rtl")
        assert all(t.get("dir") == "rtl" for t in tree.xpath("//table[@role='presentation']"))
        assert "padding-right:20px" in tree.xpath("//ul")[0].get("style").replace(" ", "")
        assert tree.xpath("//td[contains(@class, 'article')]")[0].get("align") == "right"
