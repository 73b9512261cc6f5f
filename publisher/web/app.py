"""The readers' web app: subscribe, confirm, preferences, unsubscribe, feeds, archive, health.

Every path lives under the path of ``[site] url`` (``https://example.org/news`` serves
``/news/subscribe``), so the links in emails and the pages agree wherever the site lives.
Pages are rendered from ``templates/web``; the rules behind them live in ``readers/`` and
``jobs.py``, shared with the command line and the daemon. Database work runs in Starlette's
thread pool, never on the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from ..config import Settings
from ..digest.schedule import reschedule
from ..errors import PublisherError
from ..feeds.model import FILENAMES, Site, feed_folder
from ..jobs import run_send
from ..models import Subscriber
from ..readers.forms import FormError, read_preferences, read_signup
from ..readers.leave import unsubscribe_by_token
from ..readers.links import link, reader_for
from ..readers.signup import confirm, sign_up
from ..status import gather, prometheus
from ..store import Store
from ..store.editions import NOTICE_KINDS
from ..tokens import TokenError
from .files import FeedFiles
from .guard import CSRF_COOKIE, Guard, RateLimit, csrf_ok, csrf_token
from .pages import Pages

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


HEALTH_JOBS = ("collect", "feeds", "send")
LOOPBACK = ("127.0.0.1", "::1")
FORMAT_LABELS = {"rss.xml": "RSS", "atom.xml": "Atom", "feed.json": "JSON Feed"}


class ReaderApp:
    """The handlers, with what they share: settings, the store, pages and rate limits."""

    def __init__(self, settings: Settings, store: Store, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock  # what "now" is for scheduling (a simulation passes its own)
        self.pages = Pages(settings)
        self.base = self.pages.base
        self.per_ip = RateLimit(settings.web.subscribe_per_ip_per_hour)
        self.per_address = RateLimit(settings.web.subscribe_per_address_per_hour)
        self.secure_cookie = urlsplit(settings.site.url).scheme == "https"
        self.zones = sorted(
            z for z in available_timezones() if "/" in z and not z.startswith("Etc/")
        )

    # -- helpers ------------------------------------------------------------------------------
    def page(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """A rendered page; sets the CSRF cookie when the page has a form that needs one."""
        token, fresh = csrf_token(request)
        response = HTMLResponse(self.pages.render(template, csrf=token, **context), status)
        if fresh:
            response.set_cookie(
                CSRF_COOKIE, token, max_age=7 * 86400, path=self.base or "/",
                httponly=True, samesite="strict", secure=self.secure_cookie,
            )  # fmt: skip
        return response

    def message(
        self, request: Request, heading: str, lines: list[str], status: int = 200, **extra: Any
    ) -> HTMLResponse:
        extra.setdefault("action", None)
        extra.setdefault("links", [])
        return self.page(request, "message.html", status, heading=heading, lines=lines, **extra)

    def bad_link(self, request: Request, exc: PublisherError) -> HTMLResponse:
        return self.message(
            request,
            "This link does not work",
            [exc.message.capitalize() + ".", exc.hint.capitalize() + "." if exc.hint else ""],
            400,
            links=[{"url": f"{self.base}/subscribe", "label": "Go to the subscribe page"}],
        )

    def client_ip(self, request: Request) -> str:
        if self.settings.web.trust_proxy:
            forwarded = request.headers.get("x-forwarded-for", "")
            if forwarded:
                return forwarded.split(",")[0].strip()[:64]
        return request.client.host if request.client else ""

    async def form(self, request: Request) -> dict[str, list[str]]:
        """The posted fields as text (files are refused), each with every value sent."""
        data: FormData = await request.form(max_files=0, max_fields=200, max_part_size=8192)
        return {k: [v for v in data.getlist(k) if isinstance(v, str)] for k in data}

    def expired_form(self, request: Request) -> HTMLResponse:
        return self.message(
            request,
            "Please try again",
            [
                "This form has expired or was sent from another site. Reload the page and send it again."
            ],
            403,
        )

    async def known_sections(self) -> list[str]:
        return await run_in_threadpool(self.store.sections_seen)

    # -- subscribe ----------------------------------------------------------------------------
    async def subscribe(self, request: Request) -> Response:
        sections = await self.known_sections()
        blank: dict[str, Any] = {
            "email": "", "name": "", "timezone": self.settings.site.timezone, "chosen": None,
            "frequency": "daily", "weekday": self.settings.digest.weekday, "sections": sections,
        }  # fmt: skip
        if request.method == "GET":
            return self.page(request, "subscribe.html", **blank)
        form = await self.form(request)
        if not csrf_ok(request, first(form, "csrf")):
            return self.expired_form(request)
        wait = self.per_ip.hit(self.client_ip(request))
        try:
            signup = read_signup(form, self.settings, sections)
        except FormError as exc:
            chosen = {s.casefold() for s in form.get("sections", [])}
            again: dict[str, Any] = {
                **blank, "email": first(form, "email")[:320], "name": first(form, "name")[:200],
                "problems": exc.problems,
                "chosen": None if not chosen or "__all__" in chosen else chosen,
            }  # fmt: skip
            return self.page(request, "subscribe.html", 400, **again)
        wait = max(wait, self.per_address.hit(signup.email.lower()))
        if wait:
            response = self.message(
                request,
                "Too many sign-ups",
                ["Too many sign-ups came from here or for this address. Please try again later."],
                429,
            )
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        ip = self.client_ip(request)
        # The same page, at once, whatever the address's state: the work (and the mail that
        # tells the address's owner what happened) is done after the answer is sent.
        task = BackgroundTask(self.sign_up_and_mail, signup, ip)
        response = self.message(
            request,
            "Check your inbox",
            [
                f"If {signup.email} can receive the digest, a message is on its way to it with a "
                "link to confirm. The link works for "
                f"{self.settings.web.confirm_hours} hours.",
                "Nothing arrived? Look in your spam folder, or sign up again in a few minutes.",
            ],
        )
        response.background = task
        return response

    def sign_up_and_mail(self, signup: Any, ip: str) -> None:
        """After the answer: record the sign-up and send its mail right away (any failure is
        logged; the mail stays queued and the daemon sends it)."""
        try:
            done = sign_up(self.store, signup, ip)
            if done.notice:
                run_send(self.settings, self.store, kinds=NOTICE_KINDS)
        except Exception:
            log.exception("sign-up mail not sent now; it stays queued for the sender")

    # -- confirm ------------------------------------------------------------------------------
    async def confirm(self, request: Request) -> Response:
        token = request.path_params["token"]
        try:
            reader = await run_in_threadpool(
                reader_for, self.settings, self.store, token, "confirm"
            )
        except TokenError as exc:
            return self.bad_link(request, exc)
        if request.method == "GET":  # a link scanner that only GETs confirms nobody
            if reader.status == "active":
                return self.confirmed(request, reader)
            return self.message(
                request,
                "Confirm your subscription",
                [f"Press the button to start receiving the {self.settings.site.name} digest at {reader.email}."],
                action={"url": f"{self.base}/confirm/{token}", "label": "Yes, send me the digest",
                        "csrf": csrf_token(request)[0], "fields": []},
            )  # fmt: skip
        form = await self.form(request)
        if not csrf_ok(request, first(form, "csrf")):
            return self.expired_form(request)
        try:
            active = await run_in_threadpool(confirm, self.settings, self.store, token)
        except PublisherError as exc:
            return self.bad_link(request, exc)
        return self.confirmed(request, active)

    def confirmed(self, request: Request, reader: Subscriber) -> HTMLResponse:
        return self.message(
            request,
            "You are subscribed",
            [f"Your first digest comes at your next digest hour. It will go to {reader.email}."],
            links=[{"url": link(self.settings, "preferences", reader), "label": "Choose sections, days and time"}],
        )  # fmt: skip

    # -- unsubscribe --------------------------------------------------------------------------
    async def unsubscribe(self, request: Request) -> Response:
        """GET shows one button; POST (RFC 8058 one-click, no cookie, no CSRF) acts at once."""
        token = request.path_params["token"]
        try:
            if request.method == "POST":
                reader = await run_in_threadpool(
                    unsubscribe_by_token, self.settings, self.store, token, "web"
                )
                return self.message(
                    request,
                    "You are unsubscribed",
                    [f"{reader.email} will get no more digests from {self.settings.site.name}."],
                    links=[{"url": f"{self.base}/subscribe", "label": "Changed your mind? Subscribe again"}],
                )  # fmt: skip
            reader = await run_in_threadpool(
                reader_for, self.settings, self.store, token, "unsubscribe"
            )
        except TokenError as exc:
            return self.bad_link(request, exc)
        if reader.status == "unsubscribed":
            return self.message(
                request, "You are unsubscribed", [f"{reader.email} gets no digests."]
            )
        return self.message(
            request,
            "Unsubscribe",
            [f"Stop sending the {self.settings.site.name} digest to {reader.email}?"],
            action={"url": f"{self.base}/unsubscribe/{token}", "label": "Unsubscribe",
                    "csrf": "", "fields": [("List-Unsubscribe", "One-Click")], "danger": True},
            links=[{"url": link(self.settings, "preferences", reader), "label": "Or change what you get"}],
        )  # fmt: skip

    # -- preferences --------------------------------------------------------------------------
    async def preferences(self, request: Request) -> Response:
        token = request.path_params["token"]
        try:
            reader = await run_in_threadpool(
                reader_for, self.settings, self.store, token, "preferences"
            )
        except TokenError as exc:
            return self.bad_link(request, exc)
        if reader.status not in ("active", "pending"):
            return self.message(
                request,
                "No digest for this address",
                [f"{reader.email} is {reader.status} and gets no digests."],
                links=[{"url": f"{self.base}/subscribe", "label": "Subscribe again"}],
            )
        sections = await self.known_sections()
        folders = await run_in_threadpool(self.store.group_slugs, "section")
        if request.method == "GET":
            return self.preferences_page(request, token, reader, sections, folders=folders)
        form = await self.form(request)
        if not csrf_ok(request, first(form, "csrf")):
            return self.expired_form(request)
        try:
            prefs = read_preferences(form, self.settings, sections)
            updated = await run_in_threadpool(self.reschedule, reader, prefs)
        except FormError as exc:
            return self.preferences_page(
                request, token, reader, sections, folders=folders, problems=exc.problems,
                status=400,
            )  # fmt: skip
        return self.preferences_page(request, token, updated, sections, folders=folders, saved=True)

    def reschedule(self, reader: Subscriber, prefs: dict[str, object]) -> Subscriber:
        return reschedule(self.settings, self.store, reader, self.clock(), **prefs)

    def preferences_page(
        self, request: Request, token: str, reader: Subscriber, sections: list[str], *,
        folders: dict[str, str], problems: dict[str, str] | None = None, saved: bool = False,
        status: int = 200,
    ) -> HTMLResponse:  # fmt: skip
        site = Site(self.settings)
        chosen = {s.casefold() for s in reader.sections} if reader.sections else None
        groups = [("Everything", "")] + [
            (name.title(), feed_folder("section", folders[name]))  # the feeds' stored slug
            for name in sections
            if (chosen is None or name.casefold() in chosen) and name in folders
        ]
        feeds = [
            {"name": name, "links": [{"url": site.feed_url(folder, f), "label": FORMAT_LABELS[f]}
                                     for f in FILENAMES]}
            for name, folder in groups
        ]  # fmt: skip
        due = reader.next_due_at.astimezone(self.settings.site.tz) if reader.next_due_at else None
        return self.page(
            request, "preferences.html", status,
            action=f"{self.base}/preferences/{token}",
            unsubscribe_action=urlsplit(link(self.settings, "unsubscribe", reader)).path,
            email=reader.email, sections=sections, chosen=chosen, frequency=reader.frequency,
            weekday=reader.weekday if reader.weekday is not None else self.settings.digest.weekday,
            send_hour=reader.send_hour, timezone=reader.timezone or self.settings.site.timezone,
            zones=self.zones, paused_until=reader.paused_until.isoformat() if reader.paused_until else "",
            feeds=feeds, saved=saved, problems=problems or {},
            next_due=f"{due:%A %d %B %Y, %H:%M} ({self.settings.site.timezone})" if due else "at the next run",
        )  # fmt: skip

    # -- the rest -----------------------------------------------------------------------------
    async def stylesheet(self, request: Request) -> Response:
        return Response(self.pages.stylesheet, media_type="text/css; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=3600"})  # fmt: skip

    async def script(self, request: Request) -> Response:
        return Response(self.pages.script, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=3600"})  # fmt: skip

    async def healthz(self, request: Request) -> Response:
        """The age of the last collect, feed build and send; 503 when one is overdue."""
        found = await run_in_threadpool(gather, self.settings, self.store)
        body = found.as_dict()
        body["jobs"] = {k: v for k, v in body["jobs"].items() if k in HEALTH_JOBS}
        healthy = not [job for job in found.overdue if job in HEALTH_JOBS]
        body["ok"] = healthy
        return JSONResponse(body, 200 if healthy else 503)

    async def metrics(self, request: Request) -> Response:
        """Prometheus text format; only for this machine unless [web] metrics_public."""
        host = request.client.host if request.client else ""
        if not self.settings.web.metrics_public and host not in LOOPBACK:
            return Response("metrics are served to this machine only\n", 403)
        found = await run_in_threadpool(gather, self.settings, self.store)
        return Response(prometheus(found), media_type="text/plain; version=0.0.4; charset=utf-8")

    async def home(self, request: Request) -> Response:
        return RedirectResponse(f"{self.base}/subscribe", 303)


def routes(web: ReaderApp) -> list[BaseRoute]:
    settings = web.settings
    both = ["GET", "POST"]
    found: list[BaseRoute] = [
        Route("/", web.home),
        Route("/subscribe", web.subscribe, methods=both),
        Route("/confirm/{token}", web.confirm, methods=both),
        Route("/unsubscribe/{token}", web.unsubscribe, methods=both),
        Route("/preferences/{token}", web.preferences, methods=both),
        Route("/static/site.css", web.stylesheet),
        Route("/static/tz.js", web.script),
        Route("/healthz", web.healthz),
        Route("/metrics", web.metrics),
        Mount("/feeds", FeedFiles(settings.path(settings.feeds.dir))),
        Mount("/archive", FeedFiles(settings.path(settings.digest.archive_dir))),
    ]
    return found


def create_app(settings: Settings, store: Store, clock: Clock = utc_now) -> Starlette:
    """The app for ``publisher serve``: everything under the path of ``[site] url``."""
    web = ReaderApp(settings, store, clock)
    inner: list[BaseRoute] = routes(web)
    top = [Mount(web.base, routes=inner)] if web.base else inner
    statics = tuple(f"{web.base}{p}/" for p in ("/feeds", "/archive"))
    return Starlette(
        routes=top,
        middleware=[
            Middleware(Guard, max_body=settings.web.max_body_bytes, static_prefixes=statics),
            Middleware(GZipMiddleware, minimum_size=800),
        ],
    )


def first(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0]
