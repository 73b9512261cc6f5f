"""The readers' web app in-process (Starlette's TestClient), mail caught by a real aiosmtpd."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
from aiosmtpd.controller import Controller
from starlette.testclient import TestClient

from publisher.config import Settings
from publisher.jobs import open_store, run_collect, run_digest, run_feeds, run_plan, run_send
from publisher.models import Subscriber
from publisher.readers.links import link
from publisher.store import Store
from publisher.tokens import Tokens, tokens_for

from .conftest import SmtpSink, cli
from .webhelpers import (
    client,
    csrf,
    link_in,
    mails_to,
    path_of,
    subscribe,
    web_settings,
)


@dataclass
class Site:
    settings: Settings
    store: Store
    sink: SmtpSink
    web: TestClient

    def reader(self, email: str) -> Subscriber:
        found = self.store.subscriber_by_email(email)
        assert found is not None, email
        return found

    def link(self, purpose: str, email: str) -> str:
        return path_of(link(self.settings, purpose, self.reader(email)))


def make_site(
    project: Path, controller: Controller, sink: SmtpSink, extra: str = "", **site: str
) -> Site:
    settings = web_settings(project, controller.port, extra, **site)
    store = open_store(settings)
    run_collect(settings, store)
    return Site(settings, store, sink, client(settings, store))


@pytest.fixture
def site(project: Path, smtp_server: tuple[Controller, SmtpSink]) -> Iterator[Site]:
    made = make_site(project, *smtp_server)
    yield made
    made.store.close()


def confirmed_reader(site: Site, email: str = "ann@example.com") -> Subscriber:
    subscribe(site.web, email=email)
    [mail] = mails_to(site.sink, email)
    url = path_of(link_in(mail, "confirm"))
    page = site.web.get(url)
    assert site.web.post(url, data={"csrf": csrf(page.text)}).status_code == 200
    reader = site.reader(email)
    assert reader.status == "active"
    return reader


def test_subscribe_confirm_preferences_unsubscribe(site: Site) -> None:
    page = site.web.get("/subscribe")
    assert "Politics" in page.text and 'value="__all__"' in page.text  # sections seen so far
    answer = subscribe(
        site.web, email="Ann@Example.com", name="Ann <b>R</b>", sections=["politics"]
    )
    assert "Check your inbox" in answer and "Ann@example.com" in answer
    pending = site.reader("ann@example.com")
    assert pending.status == "pending" and pending.sections == ["politics"]
    assert pending.timezone == "Europe/London" and pending.consent_ip == "testclient"
    assert pending.name == "Ann <b>R</b>"  # stored as typed, escaped wherever shown

    [mail] = mails_to(site.sink, "Ann@example.com")
    assert "Confirm" in str(mail["Subject"])
    confirm_url = link_in(mail, "confirm")
    assert confirm_url.startswith("https://news.example.com/confirm/")
    shown = site.web.get(path_of(confirm_url))  # what a link scanner does: nothing happens
    assert shown.status_code == 200 and "Yes, send me the digest" in shown.text
    assert site.reader("ann@example.com").status == "pending"
    done = site.web.post(path_of(confirm_url), data={"csrf": csrf(shown.text)})
    assert done.status_code == 200 and "You are subscribed" in done.text
    reader = site.reader("ann@example.com")
    assert reader.status == "active" and reader.consent_method == "web"
    assert reader.consent_at is not None and reader.confirmed_at is not None
    assert site.web.post(path_of(confirm_url), data={"csrf": csrf(shown.text)}).status_code == 200

    form = site.web.get(site.link("preferences", "ann@example.com"))
    assert form.status_code == 200
    assert "https://news.example.com/feeds/section/politics/rss.xml" in form.text
    saved = site.web.post(
        site.link("preferences", "ann@example.com"),
        data={
            "csrf": csrf(form.text), "sections": ["business", "politics"], "frequency": "weekly",
            "weekday": "4", "timezone": "Asia/Tokyo", "send_hour": "6",
            "paused_until": (datetime.now(UTC).date() + timedelta(days=10)).isoformat(),
        },
    )  # fmt: skip
    assert saved.status_code == 200 and "Saved." in saved.text
    changed = site.reader("ann@example.com")
    assert changed.sections == ["business", "politics"] and changed.frequency == "weekly"
    assert changed.weekday == 4 and changed.timezone == "Asia/Tokyo" and changed.send_hour == 6
    assert changed.next_due_at is not None
    assert changed.next_due_at > datetime.now(UTC) + timedelta(days=9)  # the pause holds

    unsubscribe = site.link("unsubscribe", "ann@example.com")
    asked = site.web.get(unsubscribe)
    assert asked.status_code == 200 and site.reader("ann@example.com").status == "active"
    left = site.web.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert left.status_code == 200 and "You are unsubscribed" in left.text
    gone = site.reader("ann@example.com")
    assert gone.status == "unsubscribed" and gone.unsubscribed_via == "web"


def test_typed_text_is_escaped_on_every_page(site: Site) -> None:
    page = site.web.get("/subscribe")
    answer = site.web.post(
        "/subscribe",
        data={"csrf": csrf(page.text), "email": '"><script>alert(1)</script>', "name": "<i>x"},
    )
    assert answer.status_code == 400 and "enter an email address" in answer.text
    assert "<script>alert(1)" not in answer.text and "&lt;script&gt;" in answer.text
    assert "<i>x" not in answer.text


def test_bad_tokens_are_refused(site: Site) -> None:
    ann = confirmed_reader(site)
    bob = confirmed_reader(site, "bob@example.com")
    good = link(site.settings, "unsubscribe", ann).rsplit("/", 1)[1]
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    expired = tokens_for(site.settings).make("unsubscribe", ann.id, ann.email, lifetime=-10)
    wrong_purpose = link(site.settings, "preferences", ann).rsplit("/", 1)[1]
    other_key = Tokens(["another-secret-entirely-0123456789"]).make(
        "unsubscribe", ann.id, ann.email
    )
    # A token made for Bob's id but Ann's address: signed, yet not Bob's link.
    crossed = tokens_for(site.settings).make("unsubscribe", bob.id, ann.email)
    for token in (tampered, expired, wrong_purpose, other_key, crossed, "x", "a.b.c"):
        answer = site.web.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 400, token
        assert "This link does not work" in answer.text
    for path in (f"/confirm/{good}", f"/preferences/{good}"):  # an unsubscribe token elsewhere
        assert site.web.get(path).status_code == 400
    assert site.reader(ann.email).status == "active" and site.reader(bob.email).status == "active"


def test_an_old_key_still_verifies_after_rotation(site: Site, project: Path) -> None:
    ann = confirmed_reader(site)
    old_link = site.link("unsubscribe", ann.email)
    rotated = site.settings.model_copy(
        update={"site": site.settings.site.model_copy(
            update={"secret_key": "a-brand-new-secret-0123456789," + site.settings.site.secret_key}
        )}
    )  # fmt: skip
    web = client(rotated, site.store)
    assert link(rotated, "unsubscribe", ann) != link(site.settings, "unsubscribe", ann)
    assert web.post(old_link, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert site.reader(ann.email).status == "unsubscribed"


def test_forms_without_the_csrf_token_are_refused(site: Site) -> None:
    page = site.web.get("/subscribe")
    token = csrf(page.text)
    forged = TestClient(site.web.app, base_url="https://news.example.com")  # no cookie
    refused = forged.post("/subscribe", data={"csrf": token, "email": "eve@example.com"})
    assert refused.status_code == 403
    wrong = site.web.post("/subscribe", data={"csrf": "x" * 43, "email": "eve@example.com"})
    assert wrong.status_code == 403
    assert site.store.subscriber_by_email("eve@example.com") is None and not site.sink.messages

    ann = confirmed_reader(site)
    prefs = site.link("preferences", ann.email)
    assert forged.post(prefs, data={"frequency": "weekly"}).status_code == 403
    assert site.reader(ann.email).frequency == "daily"


def test_one_click_unsubscribe_needs_no_cookie_and_a_get_changes_nothing(site: Site) -> None:
    ann = confirmed_reader(site)
    url = site.link("unsubscribe", ann.email)
    bare = TestClient(site.web.app, base_url="https://news.example.com", cookies=None)
    for _ in range(3):  # link scanners, previews, prefetchers
        assert bare.get(url).status_code == 200
    assert site.reader(ann.email).status == "active"
    answer = bare.post(url, content=b"List-Unsubscribe=One-Click",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert answer.status_code == 200 and "set-cookie" not in answer.headers
    assert site.reader(ann.email).status == "unsubscribed"
    assert bare.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200  # again: fine


def test_the_answer_is_the_same_whoever_signs_up(site: Site) -> None:
    """New, pending, active and unsubscribed addresses get the same page; only the mail to the
    address itself differs."""
    active_reader = confirmed_reader(site, "active@example.com")
    subscribe(site.web, email="pending@example.com")
    gone = confirmed_reader(site, "gone@example.com")
    site.store.unsubscribe(gone.id, "web")
    pages = {}
    for email in (
        "new@example.com",
        "pending@example.com",
        "active@example.com",
        "gone@example.com",
    ):
        fresh = client(site.settings, site.store)
        pages[email] = subscribe(fresh, email=email).replace(email, "EMAIL")
    assert len(set(pages.values())) == 1
    assert site.reader(active_reader.email).status == "active"  # not downgraded to pending
    [note] = [
        m
        for m in mails_to(site.sink, "active@example.com")
        if "already" in str(m["Subject"]).lower()
    ]
    assert "/preferences/" in note.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert site.reader("gone@example.com").status == "unsubscribed"  # until they confirm
    [again] = [
        m for m in mails_to(site.sink, "gone@example.com") if "Confirm" in str(m["Subject"])
    ][-1:]
    url = path_of(link_in(again, "confirm"))
    site.web.post(url, data={"csrf": csrf(site.web.get(url).text)})
    assert site.reader("gone@example.com").status == "active"


def test_sign_ups_are_rate_limited(project: Path, smtp_server: tuple[Controller, SmtpSink]) -> None:
    limits = "[web]\nsubscribe_per_ip_per_hour = 3\nsubscribe_per_address_per_hour = 2\n"
    site = make_site(project, *smtp_server, extra=limits)
    subscribe(site.web, email="a@example.com")
    subscribe(site.web, email="a@example.com")
    page = site.web.get("/subscribe")
    third = site.web.post("/subscribe", data={"csrf": csrf(page.text), "email": "a@example.com"})
    assert third.status_code == 429 and int(third.headers["Retry-After"]) > 3000
    fourth = site.web.post("/subscribe", data={"csrf": csrf(page.text), "email": "b@example.com"})
    assert fourth.status_code == 429  # the per-IP limit (3) is reached too
    assert len(mails_to(site.sink, "a@example.com")) == 2


def test_unsubscribing_stops_mail_already_queued(site: Site) -> None:
    ann = confirmed_reader(site)
    bob = confirmed_reader(site, "bob@example.com")
    (site.settings.path(site.settings.sources[0].path) / "new.md").write_text(
        "---\ntitle: Late news\ndate: 2030-01-01 09:00\nsection: politics\n---\nBody.\n"
    )
    run_collect(site.settings, site.store)
    run_plan(site.settings, site.store)
    assert site.store.delivery_counts().get("queued") == 2
    site.web.post(site.link("unsubscribe", ann.email), data={"List-Unsubscribe": "One-Click"})
    report, _ = run_send(site.settings, site.store)
    assert report.sent == 1
    assert [m.rcpt_tos for m in site.sink.messages[-1:]] == [[bob.email]]
    assert not [m for m in mails_to(site.sink, ann.email) if "Late news" in str(m["Subject"])]
    [(stopped, _)] = site.store.delivery_list(status="suppressed")
    assert stopped.subscriber_id == ann.id


def test_mailto_unsubscribe_through_the_bounce_maildir(
    project: Path, smtp_server: tuple[Controller, SmtpSink]
) -> None:
    site = make_site(project, *smtp_server, extra='[bounces]\nmaildir = "bounces"\n')
    ann = confirmed_reader(site)
    (project / "content" / "new.md").write_text(
        "---\ntitle: Late news\ndate: 2030-01-01 09:00\nsection: politics\n---\nBody.\n"
    )
    run_collect(site.settings, site.store)
    run_digest(site.settings, site.store)
    [digest] = [m for m in mails_to(site.sink, ann.email) if "Late news" in str(m["Subject"])]
    mailto = str(digest["List-Unsubscribe"]).split("<mailto:", 1)[1].rstrip(">")
    address, query = mailto.split("?subject=")
    box = mailbox.Maildir(str(project / "bounces"), create=True)
    box.add(
        f"From: Ann <ann@example.com>\r\nTo: {address}\r\nSubject: {unquote(query)}\r\n\r\n".encode()
    )
    box.add(
        b"From: eve@example.com\r\nSubject: unsubscribe abc.defghijklmnopqrstuvwxyz\r\n\r\nx\r\n"
    )
    result = cli("inbox", "process", "--config", str(project / "config.toml"))
    assert result.exit_code == 0, result.output
    assert (
        "1 unsubscribed by mail" in result.output
        and "unsubscribed ann@example.com" in result.output
    )
    reader = site.reader(ann.email)
    assert reader.status == "unsubscribed" and reader.unsubscribed_via == "mailto"


def test_feeds_and_archive_are_served_with_validators(site: Site) -> None:
    run_feeds(site.settings, site.store)
    first = site.web.get("/feeds/rss.xml", headers={"Accept": "application/rss+xml"})
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/rss+xml; charset=utf-8"
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = site.web.get("/feeds/rss.xml", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    since = site.web.get("/feeds/rss.xml", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    zipped = site.web.get("/feeds/atom.xml", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert (
        site.web.get("/feeds/feed.json").headers["content-type"].startswith("application/feed+json")
    )
    browser = site.web.get("/feeds/rss.xml", headers={"Accept": "text/html,*/*"})
    assert browser.headers["content-type"].startswith("application/xml")  # feed.xsl renders it
    assert site.web.get("/feeds/").headers["content-type"].startswith("text/html")
    assert site.web.get("/feeds/../config.toml").status_code == 404
    assert site.web.get("/archive/nothing.html").status_code == 404


def test_healthz_says_what_is_overdue(site: Site) -> None:
    stale = site.web.get("/healthz")
    assert stale.status_code == 503 and stale.json()["jobs"]["feeds"]["last_success"] is None
    run_feeds(site.settings, site.store)
    run_send(site.settings, site.store)
    fresh = site.web.get("/healthz")
    assert fresh.status_code == 200, fresh.json()
    assert fresh.json()["jobs"]["collect"]["age_seconds"] < 60
    long_ago = datetime.now(UTC) - timedelta(hours=1)  # 4 collect intervals
    site.store.record_job("collect", long_ago, long_ago, True, "old")
    late = site.web.get("/healthz")
    assert late.status_code == 503 and late.json()["jobs"]["collect"]["overdue"] is True


def test_metrics_for_this_machine_only(site: Site) -> None:
    confirmed_reader(site)
    run_send(site.settings, site.store)
    local = TestClient(
        site.web.app, base_url="https://news.example.com", client=("127.0.0.1", 4000)
    )
    text = local.get("/metrics").text
    assert 'publisher_subscribers{status="active"} 1.0' in text
    assert 'publisher_job_overdue{job="send"} 0.0' in text
    assert 'publisher_job_overdue{job="feeds"} 1.0' in text  # never built in this test
    assert site.web.get("/metrics").status_code == 403  # from elsewhere


def test_security_headers_and_body_cap(site: Site) -> None:
    page = site.web.get("/subscribe")
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and page.headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in page.text.replace("<script src=", "")  # no inline script
    huge = site.web.post("/subscribe", content=b"x" * 20_000,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert huge.status_code == 413


def test_a_site_under_a_sub_path(project: Path, smtp_server: tuple[Controller, SmtpSink]) -> None:
    site = make_site(project, *smtp_server, url="https://example.org/news")
    assert site.web.get("/subscribe").status_code == 404
    page = site.web.get("/news/subscribe")
    assert 'action="/news/subscribe"' in page.text and 'href="/news/static/site.css"' in page.text
    assert site.web.get("/news/static/site.css").status_code == 200
    subscribe(site.web, "/news", email="ann@example.com")
    [mail] = mails_to(site.sink, "ann@example.com")
    confirm = link_in(mail, "confirm")
    assert confirm.startswith("https://example.org/news/confirm/")
    assert site.web.get(path_of(confirm)).status_code == 200


def test_serve_and_smtp_refuse_an_unsafe_secret_and_a_missing_postal_address(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = project / "config.toml"
    default_secret = config.read_text().replace('secret_key = "test-secret-0123456789abcdef"', "")
    config.write_text(default_secret)
    served = cli("serve", "--config", str(config), "--port", "1")
    assert served.exit_code == 1 and "default 'change-me'" in served.output
    assert "PUBLISHER_SECRET_KEY" in served.output
    # A maildir reaches nobody: the run goes on, with a warning.
    cli("subscribers", "add", "ann@example.com", "--config", str(config))
    local = cli("run", "--once", "--config", str(config))
    assert local.exit_code == 0 and "1 sent" in local.output
    assert "the secret key is the default" in caplog.text  # a warning, not a refusal
    no_address = default_secret.replace("postal_address", "# postal_address")
    config.write_text(no_address + '\n[smtp]\nhost = "127.0.0.1"\nport = 1\n')
    refused = cli("send", "--config", str(config))
    assert refused.exit_code == 1 and "secret key" in refused.output
    sent = cli("send", "--config", str(config), env={"PUBLISHER_SECRET_KEY": "k" * 32})
    assert sent.exit_code == 1 and "postal_address" in sent.output
