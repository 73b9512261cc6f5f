"""Load ``config.toml`` into typed, validated settings.

Every problem in the file is reported at once, each naming its key and the fix, because an
operator editing a config wants one round trip, not one per typo. Relative paths are resolved
against the config file's folder so the daemon behaves the same whatever its working directory.
Secrets may come from the environment instead of the file (see ``ENV_OVERRIDES``).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    Strict,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from .errors import ConfigError

DEFAULT_CONFIG = "config.toml"
DEFAULT_SECRET = "change-me"
CONFIG_ENV = "PUBLISHER_CONFIG"

# (section, key) <- environment variable; applied before validation.
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "PUBLISHER_DATABASE_URL": ("database", "url"),
    "PUBLISHER_SMTP_HOST": ("smtp", "host"),
    "PUBLISHER_SMTP_USERNAME": ("smtp", "username"),
    "PUBLISHER_SMTP_PASSWORD": ("smtp", "password"),
    "PUBLISHER_SECRET_KEY": ("site", "secret_key"),
    "PUBLISHER_BOUNCES_IMAP_PASSWORD": ("bounces", "imap_password"),
}


# A bare ASCII mailbox that is safe inside a header: no whitespace, no address or header
# syntax. Our own addresses (From, Reply-To, the unsubscribe mailbox) are checked with it here
# and again when a header is built (``mail.mime``); readers' addresses follow the stricter
# rule in ``subscribers.validate_email``.
MAILBOX = re.compile(r"[^@\s<>,;:\"\\()\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def check_zone(value: str) -> str:
    """``value`` if it names an IANA time zone; ValueError saying what to use otherwise."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as 'Asia/Karachi'"
        ) from exc
    return value


def _http_url(value: str) -> str:
    """An absolute http(s) URL (pydantic's ``HttpUrl`` decides), kept as written minus a
    trailing slash, so URLs built from it by appending paths never double the slash."""
    if value:
        try:
            _HTTP_URL.validate_python(value)
        except ValidationError:
            raise ValueError(
                f"{value!r} must be an absolute http(s) URL such as 'https://news.example.com'"
            ) from None
        if "?" in value or "#" in value:
            raise ValueError(f"{value!r} must not carry a query or fragment")
    return value.rstrip("/")


def _site_asset(value: str) -> str:
    """An http(s) URL or a path on the site ("/favicon.png"), kept as written."""
    if value and not (value.startswith("/") and not value.startswith("//")):
        try:
            _http_url(value)
        except ValueError:
            raise ValueError(
                f"{value!r} must be an http(s) URL or a path on the site such as '/icon.png'"
            ) from None
    return value


def _mailbox(value: str) -> str:
    if value and (not value.isascii() or not MAILBOX.fullmatch(value)):
        raise ValueError(
            f"{value!r} must be a bare email address such as 'digest@news.example.com'"
        )
    return value


def _hhmm(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError("must be a 24-hour local time 'HH:MM', such as '07:00'")
    return value


HttpUrlText = Annotated[str, AfterValidator(_http_url)]
ZoneName = Annotated[str, AfterValidator(check_zone)]
Mailbox = Annotated[str, AfterValidator(_mailbox)]


# Paths come from TOML as text; every other value must have its own TOML type (strict):
# `port = "587"` or `per_section = "yes"` is an error that names the key, not a guess.
ConfigPath = Annotated[Path, Strict(False)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SiteConfig(_Section):
    """Who publishes: names, URLs and the newsroom's time zone."""

    name: str = "Publisher"
    url: HttpUrlText  # required: every link in feeds and mail starts here
    description: str = ""
    language: str = "en"
    timezone: ZoneName = "UTC"
    # Signs the links in emails. Several keys, newest first and comma-separated, rotate:
    # the newest signs, every one verifies. Better set by PUBLISHER_SECRET_KEY or a file.
    secret_key: str = DEFAULT_SECRET
    secret_key_file: ConfigPath | None = None  # one key per line, newest first
    # The sender's postal address, shown in every digest and confirmation footer (the law
    # in most places requires one in bulk mail); required before sending over SMTP.
    postal_address: str = ""
    # Slugs (article links, section/author/tag feed folders) transliterated to ASCII instead
    # of keeping the name's own letters; only new slugs follow it, stored ones never move.
    slug_ascii: bool = False
    # The site's icon (PNG, JPEG or GIF; an http(s) URL or a path on the site): the feeds'
    # channel image, <icon> and <logo>, and JSON Feed's icon and favicon.
    icon: Annotated[str, AfterValidator(_site_asset)] = ""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def domain(self) -> str:
        return self.url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]


class DatabaseConfig(_Section):
    """Where the truth lives: a SQLite file by default, PostgreSQL by URL."""

    url: str = "sqlite:///data/publisher.db"


class FilesSource(_Section):
    """A folder of article files (scraped plain text ``.txt`` and Markdown ``.md``)."""

    kind: Literal["files"]
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    path: ConfigPath
    enabled: bool = True
    # A bigger file is reported and skipped: an article is never megabytes of text, and a
    # stray video or database dump in the folder must not be read into memory and feeds.
    max_bytes: int = Field(default=2_000_000, ge=1024, le=1_000_000_000)
    # Worker processes that parse the files when a run finds 200 or more to read (a first
    # collect, a re-import); -1: one per core, 0: none (parse in the collecting process).
    processes: int = Field(default=-1, ge=-1, le=64)


def _fetch_url(value: str) -> str:
    """An absolute http(s) URL to fetch: unlike ``[site] url`` it may carry a query
    (``?format=rss``), and it is kept exactly as written."""
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError:
        raise ValueError(
            f"{value!r} must be an absolute http(s) URL such as 'https://example.com/feed.xml'"
        ) from None
    if not value.lower().startswith(("http://", "https://")) or len(value) > 2000:
        raise ValueError(
            f"{value!r} must start with http:// or https:// (2,000 characters at most)"
        )
    return value


def _user_agent(value: str) -> str:
    if not re.fullmatch(r"[\x20-\x7e]{0,200}", value):
        raise ValueError("must be printable ASCII on one line, 200 characters at most")
    return value


class _PolledSource(_Section):
    """What feed and sitemap sources share: where, how often, and the limits of one request."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=100)
    url: Annotated[str, AfterValidator(_fetch_url)]
    enabled: bool = True
    every_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)
    backfill_days: int = Field(default=2, ge=0, le=3650)
    timeout: float = Field(default=20.0, gt=0, le=300)
    max_bytes: int = Field(default=5_000_000, ge=1024, le=100_000_000)
    user_agent: Annotated[str, AfterValidator(_user_agent)] = ""


class FeedSource(_PolledSource):
    """An upstream RSS, Atom or JSON Feed, polled with conditional GET."""

    kind: Literal["feed"]


class SitemapSource(_PolledSource):
    """A sitemap (index or Google News): new article pages fetched politely and extracted."""

    kind: Literal["sitemap"]
    max_bytes: int = Field(default=10_000_000, ge=1024, le=100_000_000)
    delay_seconds: float = Field(default=2.0, ge=0, le=600)
    concurrency: int = Field(default=2, ge=1, le=16)
    max_pages: int = Field(default=50, ge=1, le=10_000)


SourceConfig = Annotated[FilesSource | FeedSource | SitemapSource, Field(discriminator="kind")]


class FeedsConfig(_Section):
    """Which feeds are written, where, and what they link to."""

    dir: ConfigPath = Path("feeds")
    limit: int = Field(default=50, ge=1, le=10_000)
    title: str = ""
    per_section: bool = True
    per_author: bool = True
    per_tag: bool = False
    archives: bool = True
    stylesheet: bool = True
    hubs: list[HttpUrlText] = Field(default_factory=list)
    hub_timeout: float = Field(default=10.0, gt=0)
    author_emails: dict[str, Mailbox] = Field(default_factory=dict)
    media_dir: ConfigPath | None = None
    fetch_media: bool = True
    media_timeout: float = Field(default=5.0, gt=0)
    # HEAD requests for lead images may go to loopback and private addresses (never to
    # link-local ones such as the cloud metadata service): only for a media server on the LAN.
    media_allow_private: bool = False
    # An item whose HTML (body, standfirst, image, highlights) is bigger is written as its
    # summary and a link: one huge article must not be copied whole into every feed.
    max_content_bytes: int = Field(default=100_000, ge=1_000, le=10_000_000)


class DigestConfig(_Section):
    """What the digest looks like, who it is from, and when the daemon sends it."""

    send_time: Annotated[str, AfterValidator(_hhmm)] = "07:00"
    from_address: Mailbox = "digest@localhost"
    from_name: str = ""
    reply_to: Mailbox = ""
    # Headline first: phones show about 40 characters of a subject (see digest/content.py).
    subject: str = "{headline} ({edition})"
    outbox: ConfigPath = Path("outbox")
    templates_dir: ConfigPath | None = None
    max_articles: int = Field(default=100, ge=1)
    weekday: int = Field(default=0, ge=0, le=6)
    when_empty: Literal["skip", "note"] = "skip"
    unsubscribe_mailbox: Mailbox = ""
    archive_dir: ConfigPath = Path("archive")
    archive_url: HttpUrlText = ""
    # Gmail clips a message whose HTML passes about 102 KB, hiding the footer and its
    # unsubscribe link; past this budget the digest shows its last articles as headlines.
    html_budget_kb: int = Field(default=90, ge=20, le=100)
    # Section key (as articles carry it) -> display name, in the order digests show them.
    sections: dict[str, str] = Field(default_factory=dict)
    reading_time: bool = False
    # Gmail's Feedback Loop sender id; set, every digest carries a Feedback-ID header.
    feedback_id: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$", max_length=64)

    @property
    def send_hour_minute(self) -> tuple[int, int]:
        hour, minute = self.send_time.split(":")
        return int(hour), int(minute)

    @property
    def html_budget(self) -> int:
        """The HTML part's budget in bytes (kilobytes of 1,000, as mail providers count)."""
        return self.html_budget_kb * 1000

    @property
    def unsubscribe_address(self) -> str:
        """Where mailto: unsubscribe requests go: configured, else unsubscribe@<sender domain>."""
        return self.unsubscribe_mailbox or "unsubscribe@" + self.from_address.rsplit("@", 1)[1]


class DkimConfig(_Section):
    """DKIM signing of every digest; present means on."""

    selector: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    domain: str = Field(pattern=r"^[A-Za-z0-9.-]+$")
    key_path: ConfigPath
    canonicalization: Literal[
        "relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"
    ] = "relaxed/relaxed"
    # A second signature, Ed25519 (RFC 8463), beside the RSA one: receivers that know it
    # check a key that cannot be factored, the rest ignore it and check RSA. Its public key
    # is a different DNS record, so it has its own selector.
    ed25519_selector: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]+$")
    ed25519_key_path: ConfigPath | None = None

    @model_validator(mode="after")
    def _ed25519_complete(self) -> DkimConfig:
        if (self.ed25519_selector is None) != (self.ed25519_key_path is None):
            raise ValueError(
                "dkim.ed25519_selector and dkim.ed25519_key_path go together: set both for "
                "an Ed25519 signature beside the RSA one, or neither"
            )
        if self.ed25519_selector is not None and self.ed25519_selector == self.selector:
            raise ValueError(
                f"dkim.ed25519_selector {self.ed25519_selector!r} is dkim.selector too: one "
                "selector names one DNS record, which holds one key; give the Ed25519 key "
                "its own selector, e.g. 'ed-" + self.selector + "'"
            )
        return self


class SmtpConfig(_Section):
    """The outgoing mail server; present means digests go over SMTP instead of the outbox."""

    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    password: str = ""
    timeout: float = Field(default=30.0, gt=0)
    ca_file: ConfigPath | None = None
    max_messages_per_connection: int = Field(default=100, ge=0)


class DeliveryConfig(_Section):
    """How the queue is drained: transport, parallelism, provider limits, retries, suppression.

    Rates of 0 mean "no limit". Providers count messages per second and per hour or day across
    every connection, so the limits here are shared by all connections of one sender.
    """

    transport: Literal["auto", "smtp", "maildir", "null"] = "auto"
    connections: int = Field(default=4, ge=1, le=64)
    rate_per_second: float = Field(default=0, ge=0)
    rate_per_hour: int = Field(default=0, ge=0)
    rate_per_day: int = Field(default=0, ge=0)
    max_attempts: int = Field(default=5, ge=1)
    backoff_seconds: float = Field(default=60.0, ge=0)
    backoff_max_seconds: float = Field(default=6 * 3600.0, ge=0)
    suppress_after_bounces: int = Field(default=3, ge=1)
    lease_seconds: float = Field(default=300.0, gt=0)
    batch_size: int = Field(default=100, ge=1, le=10_000)
    # Worker processes that build and DKIM-sign messages for a big send (1,000 or more due),
    # so that work runs beside the SMTP conversations; -1: one per core but one, 0: none.
    build_processes: int = Field(default=-1, ge=-1, le=64)


class BouncesConfig(_Section):
    """Where delivery-status notifications (bounces) arrive: a local maildir and/or IMAP."""

    maildir: ConfigPath | None = None
    imap_host: str = ""
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_security: Literal["tls", "starttls", "none"] = "tls"
    imap_username: str = ""
    imap_password: str = ""
    imap_folder: str = "INBOX"


class SchedulerConfig(_Section):
    """How often the daemon collects, and how often it looks for subscribers who are due."""

    collect_every_minutes: int = Field(default=15, ge=1)
    plan_every_minutes: int = Field(default=5, ge=1, le=60)
    # How often the daemon reads the [bounces] mailbox: bounces, and mailto: unsubscribes.
    inbox_every_minutes: int = Field(default=5, ge=1, le=1440)
    # A digest whose reader's hour passed longer ago than this waits for their next slot
    # (after downtime); 0 sends it however late.
    grace_minutes: int = Field(default=120, ge=0, le=7 * 24 * 60)


def _colour(value: str) -> str:
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        raise ValueError(f"{value!r} must be a colour as #rrggbb, such as '#0b5cad'")
    return value.lower()


class WebConfig(_Section):
    """The readers' web app (``publisher serve``): sign-up, confirm, preferences, unsubscribe."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    confirm_hours: int = Field(default=72, ge=1, le=24 * 30)
    subscribe_per_ip_per_hour: int = Field(default=10, ge=1)
    subscribe_per_address_per_hour: int = Field(default=3, ge=1)
    max_body_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)
    # Behind a reverse proxy, the client's address comes from X-Forwarded-For; only trust it
    # when the proxy is the only way in.
    trust_proxy: bool = False
    accent_color: Annotated[str, AfterValidator(_colour)] = "#0b5cad"
    metrics_public: bool = False  # /metrics for any client, not only this machine


class Settings(_Section):
    """The whole configuration, validated."""

    site: SiteConfig
    database: DatabaseConfig = DatabaseConfig()
    sources: list[SourceConfig] = Field(min_length=1)
    feeds: FeedsConfig = FeedsConfig()
    digest: DigestConfig = DigestConfig()
    smtp: SmtpConfig | None = None
    dkim: DkimConfig | None = None
    delivery: DeliveryConfig = DeliveryConfig()
    bounces: BouncesConfig = BouncesConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    web: WebConfig = WebConfig()
    base_dir: Path = Path(".")

    @model_validator(mode="after")
    def _unique_sources(self) -> Settings:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _dkim_aligned(self) -> Settings:
        """DMARC passes on DKIM only when d= is aligned with the From domain; a signature for
        another domain costs a key and a DNS record and still fails DMARC, so refuse it here."""
        if self.dkim is not None:
            signing = self.dkim.domain.lower().rstrip(".")
            sender = self.digest.from_address.rsplit("@", 1)[1].lower()
            if sender != signing and not sender.endswith("." + signing):
                raise ValueError(
                    f"dkim.domain {self.dkim.domain!r} is not aligned with the From domain "
                    f"{sender!r} (digest.from_address): receivers apply DMARC to the From "
                    f"domain, so a signature by {signing!r} would not count for it; set "
                    f"dkim.domain to {sender!r} or a parent domain of it"
                )
        return self

    def path(self, value: Path) -> Path:
        """Resolve a configured path against the config file's folder."""
        return value if value.is_absolute() else (self.base_dir / value)

    @property
    def secret_keys(self) -> list[str]:
        """The link-signing keys, newest first: ``secret_key_file`` if set, else ``secret_key``."""
        conf = self.site
        if conf.secret_key_file is not None:
            path = self.path(conf.secret_key_file)
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the secret key file {path}: {exc.strerror}",
                    "check [site] secret_key_file and its permissions",
                ) from exc
            keys = [k.strip() for k in lines if k.strip() and not k.lstrip().startswith("#")]
        else:
            keys = [k.strip() for k in conf.secret_key.split(",") if k.strip()]
        return keys

    def secret_problem(self) -> str:
        """Why the link-signing secret is unsafe ("" when it is fine): anyone who knows the
        default could unsubscribe or re-subscribe every reader."""
        keys = self.secret_keys
        if not keys:
            return "the secret key is empty"
        if keys[0] == DEFAULT_SECRET:
            return f"the secret key is the default {DEFAULT_SECRET!r}"
        if len(keys[0]) < 16:
            return "the secret key is shorter than 16 characters"
        return ""

    @property
    def archive_url(self) -> str:
        """Public base URL of the digest archive (``[digest] archive_url`` or site URL + /archive)."""
        return self.digest.archive_url or self.site.url + "/archive"

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path made absolute."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.path(Path(url[len(prefix) :])))
        return url


SOURCE_KINDS: dict[str, type[BaseModel]] = {
    "files": FilesSource,
    "feed": FeedSource,
    "sitemap": SitemapSource,
}


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The BaseModel classes inside an annotation such as ``list[X] | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _model_at(loc: list[str]) -> type[BaseModel] | None:
    """Which settings table a validation error's location points into."""
    model: type[BaseModel] | None = Settings
    for i, part in enumerate(loc):
        if model is None:
            return None
        if part.isdigit():
            continue
        if part in SOURCE_KINDS and i and loc[i - 1].isdigit():  # a source's discriminator tag
            model = SOURCE_KINDS[part]
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        found = _models_in(field.annotation)
        model = found[0] if found else None
    return model


BOUNDS = ("greater_than_equal", "less_than_equal", "greater_than", "less_than")
TYPES = {
    "int_type": "a whole number without quotes, such as 587",
    "bool_type": "true or false, without quotes",
    "float_type": "a number without quotes, such as 2.5",
    "string_type": "text in quotes",
    "list_type": 'a list, such as ["a", "b"]',
    "dict_type": "a table",
    "model_type": "a table",
}


def _range(loc: list[str], error: Mapping[str, Any]) -> str:
    """The whole range a number must be in, from the field's own bounds: "from 1 to 65535"."""
    parent = _model_at(loc[:-1])
    field = parent.model_fields.get(loc[-1]) if parent else None
    low = high = None
    for rule in field.metadata if field else []:
        low = getattr(rule, "ge", None) if getattr(rule, "ge", None) is not None else low
        low = f"above {rule.gt}" if getattr(rule, "gt", None) is not None else low
        high = getattr(rule, "le", None) if getattr(rule, "le", None) is not None else high
    if low is None and high is None:
        return str(error["msg"]).lower()
    if isinstance(low, str):
        return f"{low}" + (f" and at most {high}" if high is not None else "")
    if low is not None and high is not None:
        return f"from {low} to {high}"
    return f"of at least {low}" if low is not None else f"of at most {high}"


def _describe(error: Mapping[str, Any]) -> tuple[str, str]:
    """Turn one pydantic error into (dotted key, fix) in the words of the config file."""
    loc = [str(p) for p in error["loc"]]
    # A discriminated union puts its tag in the path ("sources.0.files.path"); hide it.
    shown = [p for i, p in enumerate(loc) if not (p in SOURCE_KINDS and i and loc[i - 1].isdigit())]
    key = re.sub(r"\.(\d+)", r"[\1]", ".".join(shown)) or "(top level)"
    kind = str(error["type"])
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        known = sorted(k for k in parent.model_fields if k != "base_dir") if parent else []
        extra = f"; known keys here: {', '.join(known)}" if known else ""
        return key, f"remove `{shown[-1]}` or correct its spelling{extra}"
    if kind == "missing":
        if len(shown) == 1 and shown[0] in ("site", "sources"):
            example = (
                '[site]\nurl = "https://news.example.com"'
                if shown[0] == "site"
                else ('[[sources]]\nkind = "files"\nname = "newsroom"\npath = "content"')
            )
            indented = example.replace("\n", "\n      ")
            return key, f"add it to the file, for example:\n      {indented}"
        table = key.rsplit(".", 1)[0] if "." in key else "top level"
        return key, f"add `{shown[-1]} = ...` to [{table}]"
    if kind == "too_short" and shown == ["sources"]:
        return key, 'add at least one [[sources]] table (kind = "files", name, path)'
    if kind in BOUNDS:
        return key, f"give `{shown[-1]}` a value {_range(loc, error)}"
    if kind in TYPES:
        return key, f"give `{shown[-1]}` {TYPES[kind]}"
    if kind == "union_tag_invalid":
        return key, f"set `kind` to one of: {', '.join(sorted(SOURCE_KINDS))}"
    if kind == "value_error":
        return key, ""  # our own validators already say what a valid value looks like
    return key, f"give `{shown[-1]}` a value of the right type"


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    for var, (section, key) in ENV_OVERRIDES.items():
        if var in environ and environ[var] != "":
            if section == "smtp" and "smtp" not in data and key != "host":
                continue  # a password alone does not switch delivery to SMTP
            data.setdefault(section, {})[key] = environ[var]


def parse_settings(
    data: dict[str, Any], base_dir: Path, source: str, environ: Mapping[str, str] | None = None
) -> Settings:
    """Validate a parsed TOML document; raise ConfigError listing every problem."""
    data = dict(data)
    if "base_dir" in data:
        raise ConfigError(f"{source}: `base_dir` is not a setting", "remove it")
    _apply_env(data, os.environ if environ is None else environ)
    try:
        settings = Settings(**data, base_dir=base_dir)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key, fix = _describe(err)
            msg = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"  {key}: {msg}" + (f"\n    fix: {fix}" if fix else ""))
        raise _problems(source, lines) from exc
    missing = _missing_folders(settings)
    if missing:
        raise _problems(source, missing)
    return settings


def _problems(source: str, lines: list[str]) -> ConfigError:
    return ConfigError(
        f"{source}: {len(lines)} problem(s) in the configuration:\n" + "\n".join(lines),
        "edit the file and run the command again; every key is documented in README.md",
    )


def _missing_folders(settings: Settings) -> list[str]:
    """Folders the config names that must already exist: a typo there would otherwise run
    happily on nothing (an empty source, a bounce box nobody delivers to)."""
    wanted = [
        (f"sources[{i}].path", s.path)
        for i, s in enumerate(settings.sources)
        if s.enabled and isinstance(s, FilesSource)
    ]
    if settings.bounces.maildir is not None:
        wanted.append(("bounces.maildir", settings.bounces.maildir))
    return [
        f"  {key}: the folder {settings.path(path)} does not exist"
        f"\n    fix: create it, or correct `{key.rsplit('.', 1)[1]}`"
        for key, path in wanted
        if not settings.path(path).is_dir()
    ]


def load_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read and validate the config file (``--config``, then $PUBLISHER_CONFIG, then ./config.toml)."""
    env = os.environ if environ is None else environ
    chosen = Path(path or env.get(CONFIG_ENV) or DEFAULT_CONFIG)
    try:
        raw = chosen.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(
            f"config file not found: {chosen}",
            "pass --config PATH, set PUBLISHER_CONFIG, or copy config.toml from the project",
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"cannot read {chosen}: {exc.strerror}", "check the path and permissions"
        ) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{chosen}: not valid TOML: {exc}", "fix the syntax at the place named"
        ) from exc
    return parse_settings(data, chosen.resolve().parent, str(chosen), env)
