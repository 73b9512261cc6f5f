"""The command line. The only place that prints to the user or exits.

Every command takes ``--config PATH`` (default: $PUBLISHER_CONFIG, then ./config.toml) and
shows an example in its ``--help``. A PublisherError becomes its message and hint on stderr
and exit code 1, never a traceback. Commands live in one module per area.
"""

from __future__ import annotations

import gc

# Starting a command builds a few hundred thousand objects (SQLAlchemy, pydantic, the config)
# that live until it exits; with the default threshold the cycle collector walks them over
# and over while they load, about 6% of a short command such as a no-change `collect`.
# Collections stay on, just less frequent: a long daemon run is unaffected in practice.
gc.set_threshold(20_000, 20, 20)

from . import digest, feeds, mail, run, subscribers  # noqa: E402, F401  (each registers its commands)
from .app import main  # noqa: E402

__all__ = ["main"]
