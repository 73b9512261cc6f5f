"""The exception tree.

Every error the operator can see carries a ``hint``: the one thing to do about it. Adapters
wrap third-party exceptions with ``raise PublisherError(...) from exc`` so the CLI can print a
clear message and exit 1 without a traceback, while the cause stays in the logs.
"""

from __future__ import annotations


class PublisherError(Exception):
    """Base class: a message for what went wrong and a hint for what to do."""

    exit_code = 1  # what the command line exits with (see DeliveryIncomplete)

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class ConfigError(PublisherError):
    """The configuration file is missing, unreadable or invalid."""


class ArticleError(PublisherError):
    """One article file could not be parsed; it is skipped, the run goes on."""

    def __init__(self, path: str, line: int | None, reason: str, hint: str = "") -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {reason}", hint)
        self.path = path
        self.line = line
        self.reason = reason

    def __reduce__(self) -> tuple[type[ArticleError], tuple[str, int | None, str, str]]:
        """Rebuilt from its parts when it crosses a process boundary (parse workers)."""
        return type(self), (self.path, self.line, self.reason, self.hint)


class StoreError(PublisherError):
    """The database could not be opened, migrated or written."""


class FeedError(PublisherError):
    """A feed could not be built or written."""


class RenderError(PublisherError):
    """A template is missing or failed to render."""


class DeliveryError(PublisherError):
    """A message could not be handed to the transport."""

    def __init__(self, message: str, hint: str = "", *, permanent: bool = False) -> None:
        super().__init__(message, hint)
        self.permanent = permanent


class DeliveryIncomplete(DeliveryError):
    """A run ended with mail it could not deliver now (the server unreachable, or replies
    asking to try later): nothing is lost, it stays queued; the command exits 3."""

    exit_code = 3
