"""The operator's subscriber commands: list, show, set, unsubscribe, remove, import, export,
forget, through the real command line."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from publisher.config import load_settings
from publisher.jobs import open_store

from .conftest import cli, count_rows


def run(project: Path, *args: str) -> str:
    result = cli(*args, "--config", str(project / "config.toml"))
    assert result.exit_code == 0, result.output
    return result.output


def test_import_reports_bad_rows_and_imports_the_rest(project: Path) -> None:
    (project / "readers.csv").write_text(
        "email,name,sections,frequency,weekday,timezone,send_hour,status\n"
        "ann@example.com,Ann,politics;business,weekly,friday,Europe/London,6,\n"
        "not-an-address,Bad,,,,,,\n"
        "bob@example.com,Bob,,sometimes,,,,\n"
        "carol@example.com,Carol,,,,Mars/Olympus,,\n"
        "dan@example.com,Dan,,,,,25,\n"
        "ANN@example.com,Ann again,,,,,,\n"
        "erin@example.com,Erin,,,,,,unsubscribed\n"
        'fred@example.com,"=HYPERLINK(""http://x"")",,,,,,\n',
        encoding="utf-8",
    )
    result = cli(
        "subscribers",
        "import",
        str(project / "readers.csv"),
        "--config",
        str(project / "config.toml"),
    )
    assert result.exit_code == 0, result.output
    assert "3 added, 0 updated, 0 skipped, 5 bad rows" in result.output
    for line, why in (
        (3, "not a valid email"),
        (4, "frequency"),
        (5, "time zone"),
        (6, "send_hour"),
        (7, "appears twice"),
    ):
        assert f"line {line}: " in result.output and why in result.output
    listed = json.loads(run(project, "subscribers", "list", "--json"))
    by_email = {r["email"]: r for r in listed}
    assert set(by_email) == {"ann@example.com", "erin@example.com", "fred@example.com"}
    ann = by_email["ann@example.com"]
    assert ann["status"] == "active" and ann["sections"] == ["politics", "business"]
    assert ann["frequency"] == "weekly" and ann["weekday"] == "friday" and ann["send_hour"] == 6
    assert by_email["erin@example.com"]["status"] == "unsubscribed"  # opt-outs carried over
    shown = run(project, "subscribers", "show", "ann@example.com")
    assert "consent: " in shown and "via import" in shown

    exported = run(project, "subscribers", "export")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [r["email"] for r in rows] == ["ann@example.com", "erin@example.com", "fred@example.com"]
    assert rows[0]["sections"] == "politics;business" and rows[0]["consent_method"] == "import"
    assert rows[2]["name"].startswith("'=")  # no formula reaches a spreadsheet

    # Importing the export again changes nothing: everyone is already there or left.
    (project / "again.csv").write_text(exported, encoding="utf-8")
    again = run(project, "subscribers", "import", str(project / "again.csv"))
    assert "0 added, 0 updated, 3 skipped" in again


def test_an_unsubscribed_or_forgotten_address_is_not_imported_without_force(project: Path) -> None:
    run(project, "subscribers", "add", "ann@example.com")
    run(project, "subscribers", "add", "bob@example.com")
    assert "unsubscribed" in run(project, "subscribers", "unsubscribe", "ann@example.com")
    erased = run(project, "subscribers", "forget", "bob@example.com", "--yes")
    assert "bob@example.com: erased (was active)" in erased
    settings = load_settings(project / "config.toml", environ={})
    with open_store(settings) as store:
        assert store.subscriber_by_email("bob@example.com") is None
        hashed = count_rows(store, "forgotten")
        with store.engine.connect() as conn:
            kept = conn.exec_driver_sql("SELECT address_hash FROM forgotten").scalar_one()
        assert hashed == 1 and "bob" not in kept and len(kept) == 64

    (project / "back.csv").write_text("email\nann@example.com\nBob@Example.com\n", encoding="utf-8")
    refused = run(project, "subscribers", "import", str(project / "back.csv"))
    assert "0 added, 0 updated, 2 skipped" in refused
    assert "not brought back without --force" in refused and "erased on request" in refused
    forced = run(project, "subscribers", "import", str(project / "back.csv"), "--force")
    assert "1 added, 1 updated, 0 skipped" in forced
    statuses = {
        r["email"]: r["status"] for r in json.loads(run(project, "subscribers", "list", "--json"))
    }
    assert statuses == {"ann@example.com": "active", "Bob@example.com": "active"}


def test_list_filters_and_shows_each_subscribers_schedule(project: Path) -> None:
    run(project, "subscribers", "add", "ann@example.com", "--name", "Ann")
    run(project, "subscribers", "add", "bob@example.com")
    run(project, "subscribers", "set", "ann@example.com", "--frequency", "weekly", "--weekday", "friday",
        "--timezone", "Europe/London", "--hour", "6", "--sections", "politics")  # fmt: skip
    removed = run(project, "subscribers", "remove", "bob@example.com")
    assert "suppressed (was active)" in removed
    table = run(project, "subscribers", "list")
    assert (
        "ann@example.com\tactive\tpolitics\tweekly (friday)\tEurope/London 6:00\tnext 20" in table
    )
    assert "bob@example.com\tsuppressed" in table
    only = json.loads(run(project, "subscribers", "list", "--status", "suppressed", "--json"))
    assert [r["email"] for r in only] == ["bob@example.com"]
    assert (
        run(project, "subscribers", "reactivate", "bob@example.com")
        .strip()
        .endswith("active (was suppressed)")
    )
    paused = run(project, "subscribers", "set", "ann@example.com", "--pause-until", "2031-01-05")
    assert "next digest due 2031-01-" in paused  # a Friday on or after the pause
    run(project, "subscribers", "unsubscribe", "ann@example.com")
    back = cli(
        "subscribers", "reactivate", "ann@example.com", "--config", str(project / "config.toml")
    )
    assert back.exit_code == 1 and "only the reader can bring themselves back" in back.output
