"""The only package that speaks SQL.

``Store`` wraps one SQLAlchemy engine (a SQLite file in WAL mode by default, PostgreSQL by URL),
brings the schema up to date with Alembic on open, and offers the queries the rest of publisher
needs, one module per table. Callers see dataclasses from ``publisher.models``, never rows.

Importing the package imports no SQLAlchemy: ``Store`` and its kin load on first use, so a
command that goes through ``ondemand.StoreOnDemand`` starts without paying for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .articles import UpsertResult
    from .base import make_engine
    from .database import Store
    from .groups import FeedGroup

_LAZY = {
    "Store": "database",
    "UpsertResult": "articles",
    "make_engine": "base",
    "FeedGroup": "groups",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)


__all__ = ["FeedGroup", "Store", "UpsertResult", "make_engine"]
