"""The top-level ``publisher`` command group; command modules attach themselves to it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from .. import __version__


@dataclass
class Options:
    """What ``publisher`` itself was given, before the subcommand."""

    config_path: Path | None = None
    verbose: int = 0
    log_format: str | None = None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="publisher")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Path to config.toml, for any command (default: $PUBLISHER_CONFIG or ./config.toml).",
)
@click.option("-v", "--verbose", count=True, help="Log details (-v) or everything (-vv).")
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default=None, help="text or json logs."
)
@click.pass_context
def main(
    ctx: click.Context, config_path: Path | None, verbose: int, log_format: str | None
) -> None:
    """publisher: newly published articles in, feeds and email digests out.

    Exit codes: 0 done, 1 an error (message and hint on stderr), 2 a usage error,
    3 delivery incomplete (mail left queued for a retry, e.g. the server was unreachable).

    \b
    Example:
      publisher run --once --config config.toml
      publisher --config /etc/publisher/config.toml status
    """
    ctx.obj = Options(config_path, verbose, log_format)
