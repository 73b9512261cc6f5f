"""Moving lists in and out: CSV import and export, and erasure on request.

An import is the operator vouching for consent (recorded as ``import`` with the time). Each
bad row is reported with its line and reason and the rest go in; an address that left
(unsubscribed, bounced, suppressed) or was erased is never brought back without ``force``.
The export writes the same columns the import reads, plus the record of consent.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TextIO

from ..config import Settings, check_zone
from ..errors import PublisherError
from ..models import Subscriber
from ..subscribers import FREQUENCIES, validate_email, validate_preferences
from .forms import WEEKDAYS
from .leave import address_hash

IMPORT_STATUSES = ("active", "unsubscribed", "bounced", "suppressed")
COLUMNS = [
    "email", "name", "status", "sections", "frequency", "weekday", "timezone", "send_hour",
    "paused_until", "next_due_at", "consent_at", "consent_method", "consent_ip",
    "confirmed_at", "unsubscribed_at", "unsubscribed_via", "bounce_count", "created_at",
]  # fmt: skip
MAX_ROWS = 1_000_000


class TransferStore(Protocol):
    def subscribers_by_emails(self, emails: Iterable[str]) -> dict[str, Subscriber]: ...

    def forgotten_hashes(self, hashes: Iterable[str]) -> set[str]: ...

    def forget_key(self) -> bytes: ...

    def import_subscribers(
        self, rows: list[dict[str, Any]], replace: list[tuple[int, dict[str, Any]]]
    ) -> int: ...

    def unforget(self, address_hash: str) -> None: ...


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    skipped: list[str] = field(default_factory=list)  # "line N: address: why"
    bad: list[str] = field(default_factory=list)  # "line N: why"


def _row(raw: dict[str, str], settings: Settings) -> dict[str, Any]:
    """One CSV row as store values; ValueError says what is wrong with it."""
    email = validate_email(raw.get("email") or "")
    status = (raw.get("status") or "active").strip().lower()
    if status not in IMPORT_STATUSES:
        raise ValueError(f"status must be one of {', '.join(IMPORT_STATUSES)}, not {status!r}")
    prefs: dict[str, object] = {}
    sections = (raw.get("sections") or "").strip()
    if sections and sections.lower() != "all":
        prefs["sections"] = [s.strip() for s in sections.split(";") if s.strip()]
    frequency = (raw.get("frequency") or "").strip().lower()
    if frequency:
        if frequency not in FREQUENCIES:
            raise ValueError(f"frequency must be daily or weekly, not {frequency!r}")
        prefs["frequency"] = frequency
    weekday = (raw.get("weekday") or "").strip()
    if weekday:
        names = [w.lower() for w in WEEKDAYS]
        if weekday.lower() in names:
            prefs["weekday"] = names.index(weekday.lower())
        elif weekday.isdigit() and int(weekday) < 7:
            prefs["weekday"] = int(weekday)
        else:
            raise ValueError(f"weekday must be 0-6 or a day's name, not {weekday!r}")
    zone = (raw.get("timezone") or "").strip()
    if zone:
        prefs["timezone"] = check_zone(zone)
    hour = (raw.get("send_hour") or "").strip()
    if hour:
        if not hour.isdigit() or int(hour) > 23:
            raise ValueError(f"send_hour must be 0-23, not {hour!r}")
        prefs["send_hour"] = int(hour)
    try:
        validate_preferences(prefs)
    except PublisherError as exc:
        raise ValueError(exc.message) from None
    name = " ".join((raw.get("name") or "").split())[:200]
    return {"email": email, "name": name, "status": status, "prefs": prefs}


def import_csv(
    settings: Settings, store: TransferStore, handle: TextIO, *, force: bool = False
) -> ImportReport:
    """Import subscribers from CSV with a header row (``email`` required; see ``COLUMNS``)."""
    report = ImportReport()
    reader = csv.DictReader(handle)
    if not reader.fieldnames or "email" not in [f.strip().lower() for f in reader.fieldnames]:
        raise PublisherError(
            "the CSV file has no `email` column in its first line",
            f"start the file with a header such as: {','.join(COLUMNS[:8])}",
        )
    wanted: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    try:
        for raw in reader:
            line = reader.line_num
            if len(wanted) >= MAX_ROWS:
                raise PublisherError(f"more than {MAX_ROWS} rows", "split the file")
            clean = {str(k).strip().lower(): (v or "") for k, v in raw.items() if k is not None}
            try:
                row = _row(clean, settings)
            except (ValueError, PublisherError) as exc:
                why = exc.message if isinstance(exc, PublisherError) else str(exc)
                report.bad.append(f"line {line}: {why}")
                continue
            key = row["email"].lower()
            if key in seen:
                report.bad.append(f"line {line}: {row['email']} appears twice; the first is kept")
                continue
            seen.add(key)
            wanted.append((line, row))
    except csv.Error as exc:
        raise PublisherError(
            f"line {reader.line_num}: not valid CSV ({exc})", "fix the file"
        ) from exc
    existing = store.subscribers_by_emails(r["email"] for _, r in wanted)
    hashes = {r["email"]: address_hash(store, r["email"]) for _, r in wanted}
    erased = store.forgotten_hashes(hashes.values())
    new: list[dict[str, Any]] = []
    replace: list[tuple[int, dict[str, Any]]] = []
    for line, row in wanted:
        found = existing.get(row["email"].lower())
        if hashes[row["email"]] in erased and not force:
            report.skipped.append(
                f"line {line}: {row['email']}: erased on request (--force to import)"
            )
        elif found is None:
            new.append(row)
        elif found.status in ("active", "pending") and not force:
            report.skipped.append(f"line {line}: {row['email']}: already a subscriber")
        elif not force:
            report.skipped.append(
                f"line {line}: {row['email']}: {found.status}; not brought back without --force"
            )
        else:
            replace.append((found.id, row))
    store.import_subscribers(new, replace)
    if force:
        for row in [*new, *(r for _, r in replace)]:
            if hashes[row["email"]] in erased:
                store.unforget(hashes[row["email"]])
    report.added, report.updated = len(new), len(replace)
    return report


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def export_csv(subscribers: Iterable[Subscriber], out: TextIO) -> int:
    """Write every subscriber with status, preferences and consent; returns the row count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for s in subscribers:
        values = {
            **{c: getattr(s, c, None) for c in COLUMNS},
            "sections": ";".join(s.sections) if s.sections else "",
        }
        writer.writerow([_safe(_cell(values[c])) for c in COLUMNS])
        count += 1
    return count


def _safe(text: str) -> str:
    """Neutralise spreadsheet formulas in cells readers typed (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
