"""Commands that run the pipeline: ``collect``, ``run`` (once, or as the daemon), ``serve``."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from .app import main
from .common import (
    exit_if_incomplete,
    logs_progress,
    print_collect,
    print_digest,
    print_feeds,
    with_settings,
    with_store_on_demand,
)

if TYPE_CHECKING:  # loaded by the commands that need them: the CLI starts fast
    from ..config import Settings
    from ..store import Store
    from ..store.protocols import CollectStore


@main.command()
@with_store_on_demand
def collect(settings: Settings, store: CollectStore) -> None:
    """Read every configured source and store new or edited articles.

    \b
    Example:
      publisher collect --config config.toml
    """
    from ..jobs import run_collect

    print_collect(run_collect(settings, store))


@main.command()
@click.option(
    "--once", is_flag=True, help="Collect, write feeds and send the digest once, then exit."
)
@click.option(
    "--serve", "serve_too", is_flag=True, help="Also serve the readers' web app (as `serve`)."
)
@click.option(
    "--standby",
    is_flag=True,
    help="PostgreSQL: wait while another node's daemon runs, take over when it stops.",
)
@with_settings
@logs_progress
def run(settings: Settings, store: Store, once: bool, serve_too: bool, standby: bool) -> None:
    """Run the daemon (collect and plan digests on a schedule), or every step once.

    Without --once it runs until Ctrl-C or SIGTERM; with --serve the readers' web app runs
    beside it in the same process, on [web] host and port, and stops with it. One daemon
    runs per database: a second refuses to start, or with --standby (PostgreSQL) waits and
    takes over within seconds when the first one dies.

    \b
    Example:
      publisher run --once --config config.toml
      publisher run --serve --config /etc/publisher/config.toml
    """
    from ..jobs import run_collect, run_digest, run_feeds
    from ..web.server import start_web

    if once:
        print_collect(run_collect(settings, store))
        print_feeds(settings, run_feeds(settings, store))
        digest = run_digest(settings, store)
        print_digest(digest, dry_run=False)
        exit_if_incomplete(digest.sent)
        return
    from ..daemon import run_daemon

    web = start_web(settings, store) if serve_too else None
    click.echo(
        f"publisher daemon: collecting every {settings.scheduler.collect_every_minutes} min, "
        f"digests planned every {settings.scheduler.plan_every_minutes} min; Ctrl-C to stop"
    )
    try:
        run_daemon(settings, store, standby=standby)
    finally:
        if web is not None:
            web.stop()


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: [web] host).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Default: [web] port.")
@with_settings
@logs_progress
def serve(settings: Settings, store: Store, host: str | None, port: int | None) -> None:
    """Serve the readers' web app: subscribe, confirm, preferences, unsubscribe (with the
    RFC 8058 one-click POST), the feeds and the digest archive, and /healthz.

    Refuses to start with the default or an empty secret key. Put it behind a reverse proxy
    that terminates TLS for [site] url.

    \b
    Example:
      PUBLISHER_SECRET_KEY=... publisher serve --host 127.0.0.1 --port 8000
    """
    from ..web.server import WebServer

    web = WebServer(settings, store, host, port)
    click.echo(f"publisher serve: {settings.site.url}/subscribe on http://{web.host}:{web.port}")
    web.run()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="The same as one JSON object.")
@with_settings
def status(settings: Settings, store: Store, as_json: bool) -> None:
    """How the installation is doing: each job's last run and next, articles, subscribers and
    deliveries by state, failures in the last 24 h, the oldest mail still waiting.

    Exits 1 when a job is overdue (its last success older than three times its interval),
    so a monitor can run it.

    \b
    Example:
      publisher status
      publisher status --json
    """
    from ..status import gather

    found = gather(settings, store)
    if as_json:
        click.echo(json.dumps(found.as_dict(), indent=1))
    else:
        for name, job in found.jobs.items():
            facts = job.as_dict(found.now)
            when = _ago(facts["age_seconds"]) if facts["last_success"] else "never succeeded"
            state = "OVERDUE" if job.overdue else "ok"
            click.echo(
                f"{name:8} {state:8} last success {when}; last run: {facts['last_result'] or '-'}"
                f"; next {facts['next_run'] or 'when the daemon starts'}"
            )
        click.echo(f"articles: {found.articles:,}")
        click.echo("subscribers: " + _counts(found.subscribers))
        click.echo("deliveries: " + _counts(found.deliveries))
        click.echo("last 24 h: " + _counts(found.failures_24h))
        for source in found.as_dict()["sources"]:
            trouble = (
                f"; failing ({source['failures']} in a row): {source['last_error']}; "
                f"next try {source['next_attempt']}"
                if source["last_error"]
                else ""
            )
            click.echo(
                f"source {source['name']} ({source['kind']}): last success "
                f"{source['last_success'] or 'never'}{trouble}"
            )
        if found.oldest_waiting:
            age = (found.now - found.oldest_waiting).total_seconds()
            click.echo(f"oldest mail waiting: queued {_ago(round(age))}")
    if found.overdue:
        sys.exit(1)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {state}" for state, n in sorted(counts.items())) or "none"


def _ago(seconds: object) -> str:
    value = int(seconds) if isinstance(seconds, int | float) else 0
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if value >= size:
            return f"{value // size} {unit} ago"
    return f"{value} s ago"
