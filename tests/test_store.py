"""The store on both databases it supports: SQLite files and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from publisher.config import load_settings
from publisher.jobs import open_store, run_collect, run_digest
from publisher.store import Store
from publisher.store.schema import metadata

from .conftest import SEED, stored_article, write_config


def test_postgresql_selected_by_url(project: Path, pg_url: str) -> None:
    config = write_config(project)
    settings = load_settings(config, environ={"PUBLISHER_DATABASE_URL": pg_url})
    assert settings.database_url == pg_url
    with open_store(settings) as store:
        assert store.engine.dialect.name == "postgresql"
        with store.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        store.add_subscriber("pg@example.com")
        report = run_collect(settings, store)
        assert report.added == len(list((project / "content").iterdir()))
        assert run_collect(settings, store).added == 0
        seed = stored_article(store, f"newsroom:{SEED}")
        assert seed is not None and seed.author == "Web Desk"
        digest = run_digest(settings, store)
        assert digest.sent.sent == 1
        assert run_digest(settings, store).planned == []


def test_migrations_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = Store(url)
    store.migrate("base", downgrade=True)
    with store.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is None
    store.migrate("head")
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    store.close()
