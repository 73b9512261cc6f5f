"""The command line. The only place that prints to the user or exits.

Every command takes ``--config PATH`` (default: $PUBLISHER_CONFIG, then ./config.toml) and
shows an example in its ``--help``. A PublisherError becomes its message and hint on stderr
and exit code 1, never a traceback. Commands live in one module per area.
"""

from __future__ import annotations

from . import digest, feeds, mail, run, subscribers  # noqa: F401  (each registers its commands)
from .app import main

__all__ = ["main"]
