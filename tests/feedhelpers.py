"""Helpers for feed tests: building feeds for a project, the multilingual fixtures, schemas,
the offline W3C validator, a loopback HTTP server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
import rnc2rng
from lxml import etree
from sqlalchemy import select, update

from publisher.config import Settings, load_settings
from publisher.feeds import FeedReport, write_feeds
from publisher.jobs import open_store, run_collect
from publisher.store.schema import article_groups, articles

DATA = Path(__file__).resolve().parent / "data"
ROOT = Path(__file__).resolve().parent.parent
MULTILINGUAL = DATA / "multilingual"
SITE = "https://news.example.com"
# The W3C Feed Validation Service, run offline: beside the project, as CI lays it out.
TOOLS = ROOT.parent / "shared" / "tools"


def multilingual_project(root: Path, site: str = "", feeds: str = "") -> Settings:
    """A project in ``root`` whose content is tests/data/multilingual, with tag feeds, an icon
    and the sample media; ``site`` and ``feeds`` add lines to those tables."""
    shutil.copytree(MULTILINGUAL, root / "content")
    shutil.copytree(ROOT / "media", root / "media")
    (root / "config.toml").write_text(
        f'[site]\nname = "The World Desk"\nurl = "{SITE}"\ntimezone = "Asia/Kolkata"\n'
        f'icon = "/images/2024/09/stock-exchange.png"\n{site}\n'
        '[database]\nurl = "sqlite:///data/publisher.db"\n'
        '[[sources]]\nkind = "files"\nname = "world"\npath = "content"\n'
        f'[feeds]\ndir = "feeds"\nmedia_dir = "media"\nfetch_media = false\nper_tag = true\n{feeds}\n',
        encoding="utf-8",
    )
    return load_settings(root / "config.toml", environ={})


def feed_files(folder: Path) -> list[Path]:
    """Every RSS and Atom document under ``folder`` (subscription feeds and archives)."""
    return sorted(p for p in folder.rglob("*.xml") if p.is_file())


# Runs ../shared/tools/feedcheck.py, unmodified, once per file inside one interpreter: the
# same script and options as on the command line, without a process start per file.
_FEEDCHECK = r"""
import contextlib, io, json, runpy, sys
script = sys.argv[1]
results = {}
for path, base in json.loads(sys.stdin.read()):
    out = io.StringIO()
    sys.argv = [script, path, "--base", base, "--level", "AA", "--json"]
    code = 0
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as exc:
            code = exc.code or 0
    results[path] = {"code": code, "events": json.loads(out.getvalue())["events"]}
print(json.dumps(results))
"""


def w3c_validate(folder: Path, base: str) -> dict[str, list[dict[str, Any]]]:
    """The W3C validator's errors and warnings (level AA) for every feed file under
    ``folder``, served at ``base`` + its path; skips the test when the validator is absent."""
    script = TOOLS / "feedcheck.py"
    if not script.is_file():
        pytest.skip(f"the offline W3C Feed Validation Service is not at {TOOLS} (../shared/tools)")
    pairs = [
        (str(p), f"{base}/{quote(p.relative_to(folder).as_posix())}") for p in feed_files(folder)
    ]
    done = subprocess.run(
        [sys.executable, "-c", _FEEDCHECK, str(script)],
        input=json.dumps(pairs), capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    results: dict[str, dict[str, Any]] = json.loads(done.stdout)
    assert len(results) == len(pairs)
    return {
        path: found["events"] for path, found in results.items() if found["code"] or found["events"]
    }


def build(settings: Settings, now: datetime | None = None) -> FeedReport:
    with open_store(settings) as store:
        run_collect(settings, store)
        return write_feeds(settings, store, now=now)


@cache
def atom_schema() -> etree.RelaxNG:
    """RFC 4287's RELAX NG schema, converted from the compact syntax in tests/data."""
    rng = rnc2rng.dumps(rnc2rng.load(str(DATA / "atom.rnc")))
    rng = rng.replace('\n         xmlns:local=""', "").replace(' xmlns:local=""', "")
    return etree.RelaxNG(etree.fromstring(rng.encode()))


def assert_valid_atom(path: Path) -> None:
    schema = atom_schema()
    assert schema.validate(etree.parse(str(path))), f"{path}: {schema.error_log}"


@cache
def json_feed_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((DATA / "jsonfeed-1.1.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def assert_valid_json_feed(path: Path) -> dict[str, Any]:
    feed: dict[str, Any] = json.loads(path.read_bytes())
    jsonschema.validate(feed, json_feed_schema(), cls=jsonschema.Draft202012Validator)
    return feed


@dataclass
class Recorder:
    """What a loopback HTTP server received, and how it should answer."""

    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)


@contextmanager
def http_server() -> Iterator[tuple[str, Recorder]]:
    """A real HTTP server on a free loopback port that records every request."""
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorder.requests.append((self.command, self.path, dict(self.headers), body))
            self.send_response(recorder.status)
            for name, value in recorder.headers.items():
                self.send_header(name, value)
            if "Content-Length" not in recorder.headers:
                self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_HEAD = do_GET = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()


def age_articles(settings: Settings, month: str, keys: list[str]) -> None:
    """Make articles look first collected in ``month`` ("2024-09"), as archives see them."""
    stamp = datetime.fromisoformat(f"{month}-15T12:00:00+00:00")
    with open_store(settings) as store, store.engine.begin() as conn:
        conn.execute(update(articles).where(articles.c.key.in_(keys)).values(first_seen_at=stamp))
        ids = select(articles.c.id).where(articles.c.key.in_(keys)).scalar_subquery()
        conn.execute(
            update(article_groups).where(article_groups.c.article_id.in_(ids)).values(period=month)
        )
