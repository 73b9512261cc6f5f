"""Helpers for feed tests: building feeds for a project, schemas, a loopback HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import rnc2rng
from lxml import etree

from publisher.config import Settings
from publisher.feeds import FeedReport, write_feeds
from publisher.jobs import open_store, run_collect

DATA = Path(__file__).resolve().parent / "data"


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
