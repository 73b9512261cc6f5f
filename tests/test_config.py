"""Configuration: a bad file names the key and the fix and exits 1; env vars supply secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher.config import load_settings
from publisher.errors import ConfigError

from .conftest import ROOT, cli, write_config


def test_sample_config_is_valid() -> None:
    settings = load_settings(ROOT / "config.toml", environ={})
    assert settings.site.timezone == "Asia/Karachi"
    assert settings.sources[0].name == "newsroom"
    assert settings.smtp is None
    assert settings.database_url == f"sqlite:///{ROOT / 'data' / 'publisher.db'}"


@pytest.mark.parametrize(
    ("old", "new", "key", "fix"),
    [
        ('dir = "feeds"', 'dir = "feeds"\nlimt = 5', "feeds.limt", "remove `limt`"),
        ("[digest]", '[smtp]\nport = "twenty-five"\n[digest]', "smtp.host", "add `host = ...`"),
        ("[digest]", '[smtp]\nhost = "h"\nport = "x"\n[digest]', "smtp.port", "whole number"),
        ("[digest]", '[smtp]\nhost = "h"\nport = "587"\n[digest]', "smtp.port", "without quotes"),
        ("[digest]", '[smtp]\nhost = "h"\nport = 70000\n[digest]', "smtp.port", "from 1 to 65535"),
        ("fetch_media = false", 'fetch_media = "yes"', "feeds.fetch_media", "true or false"),
        ('dir = "feeds"', 'dir = "feeds"\nlimit = 0', "feeds.limit", "from 1 to 10000"),
        ('url = "https://news.example.com"', "", "site.url", "add `url = ...` to [site]"),
        ('path = "content"', 'path = "no-such-folder"', "sources[0].path", "does not exist"),
    ],
)
def test_bad_config_names_key_and_exits_1(
    tmp_path: Path, old: str, new: str, key: str, fix: str
) -> None:
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace(old, new, 1))
    result = cli("collect", "--config", str(config))
    assert result.exit_code == 1
    assert key in result.output
    assert fix in result.output
    assert "Traceback" not in result.output


def test_bad_value_and_unknown_source_kind(tmp_path: Path) -> None:
    config = write_config(tmp_path, timezone="Mars/Olympus")
    text = config.read_text().replace('kind = "files"', 'kind = "ftp"')
    config.write_text(text.replace('timezone = "Asia/Karachi"\n', "", 1))
    with pytest.raises(ConfigError) as info:
        load_settings(config, environ={})
    message = str(info.value)
    assert "site.timezone" in message and "Mars/Olympus" in message
    assert "sources[0]" in message and "set `kind` to one of: feed, files, sitemap" in message


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    missing = cli("feeds", "--config", str(tmp_path / "nope.toml"))
    assert missing.exit_code == 1 and "config file not found" in missing.output
    broken = tmp_path / "broken.toml"
    broken.write_text("[site\nname = 1\n")
    result = cli("feeds", "--config", str(broken))
    assert result.exit_code == 1 and "not valid TOML" in result.output


def test_secrets_from_environment(tmp_path: Path) -> None:
    config = write_config(tmp_path, extra='\n[smtp]\nhost = "mail.example.com"\nusername = "u"\n')
    settings = load_settings(
        config, environ={"PUBLISHER_SMTP_PASSWORD": "s3cret", "PUBLISHER_SECRET_KEY": "k"}
    )
    assert settings.smtp is not None and settings.smtp.password == "s3cret"
    assert settings.site.secret_key == "k"
    # A password alone does not turn SMTP on.
    plain = load_settings(write_config(tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path),
                          environ={"PUBLISHER_SMTP_PASSWORD": "s3cret"})  # fmt: skip
    assert plain.smtp is None
