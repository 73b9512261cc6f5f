"""Alembic environment: migrations run on the connection the Store hands in."""

from __future__ import annotations

from alembic import context

from publisher.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached by running the alembic CLI by hand
    raise RuntimeError(
        "migrations run when publisher opens the database: run any publisher command"
    )

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
