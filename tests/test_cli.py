"""The command line as an operator meets it: help with examples, --config everywhere, docs."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from publisher.cli import main
from publisher.config import ENV_OVERRIDES, Settings

from .conftest import ROOT, cli


def all_commands(group: click.Group = main, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        if isinstance(command, click.Group):
            found.extend(all_commands(command, path))
        else:
            found.append(path)
    return found


COMMANDS = all_commands()


def test_required_commands_exist() -> None:
    for required in [
        ("collect",),
        ("feeds",),
        ("digest", "send"),
        ("run",),
        ("subscribers", "add"),
    ]:
        assert required in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_example_and_config(command: tuple[str, ...]) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert f"publisher {' '.join(command)}" in result.output
    assert "--config PATH" in result.output or "--config FILE" in result.output


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_is_documented(command: tuple[str, ...]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"`publisher {' '.join(command)}" in readme


def settings_keys() -> list[str]:
    keys = []
    for table, field in Settings.model_fields.items():
        if table == "base_dir":
            continue
        annotation = field.annotation
        models = [a for a in getattr(annotation, "__args__", ()) if hasattr(a, "model_fields")]
        model = (
            annotation if hasattr(annotation, "model_fields") else (models[0] if models else None)
        )
        if model is None and table == "sources":  # every kind's keys, each documented once
            from publisher.config import SOURCE_KINDS

            names = {key for kind in SOURCE_KINDS.values() for key in kind.model_fields}
            keys.extend(f"sources.{key}" for key in sorted(names))
            continue
        assert model is not None, table
        keys.extend(f"{table}.{key}" for key in model.model_fields)
    return keys


@pytest.mark.parametrize("key", settings_keys())
def test_every_setting_is_documented(key: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table, name = key.split(".")
    heading = f"### `[[{table}]]`" if table == "sources" else f"### `[{table}]`"
    assert heading in readme, f"README has no section for [{table}]"
    section = readme.split(heading, 1)[1].split("\n### ", 1)[0]
    assert re.search(rf"^\| `{name}` \|", section, re.M), f"{key} is missing from README"


@pytest.mark.parametrize("variable", [*sorted(ENV_OVERRIDES), "PUBLISHER_CONFIG"])
def test_every_environment_variable_is_documented(variable: str) -> None:
    assert f"`{variable}`" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_subscribers_add_rejects_bad_address(project) -> None:  # type: ignore[no-untyped-def]
    result = cli("subscribers", "add", "not-an-address", "--config", str(project / "config.toml"))
    assert result.exit_code == 1
    assert "not a valid email address" in result.output


def test_digest_dry_run_queues_nothing(project) -> None:  # type: ignore[no-untyped-def]
    config = str(project / "config.toml")
    cli("subscribers", "add", "ann@example.com", "--config", config)
    cli("collect", "--config", config)
    dry = cli("digest", "send", "--dry-run", "--config", config)
    assert dry.exit_code == 0 and "would queue 6 articles for 1 subscribers" in dry.output
    real = cli("digest", "send", "--config", config)
    assert "1 sent" in real.output


def test_an_address_accepted_at_sign_up_is_never_refused_when_sending(project: Path) -> None:
    """One rule at both ends: what `subscribers add` stores, the sender sends to."""
    config = str(project / "config.toml")
    refused = cli("subscribers", "add", "josé@example.com", "--config", config)
    assert refused.exit_code == 1 and "not a valid email address" in refused.output
    added = cli("subscribers", "add", "Ann.Reader+news@Example.COM", "--config", config)
    assert "Ann.Reader+news@example.com" in added.output  # the domain as stored, lower case
    idn = cli("subscribers", "add", "bob@exämple.com", "--config", config)
    assert "bob@xn--exmple-cua.com" in idn.output  # stored and sent in ASCII form
    run = cli("run", "--once", "--config", config)
    assert run.exit_code == 0 and "2 sent, 0 to retry, 0 failed" in run.output, run.output
