"""The top-level ``publisher`` command group; command modules attach themselves to it."""

from __future__ import annotations

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="publisher")
def main() -> None:
    """publisher: newly published articles in, feeds and email digests out.

    \b
    Example:
      publisher run --once --config config.toml
    """
