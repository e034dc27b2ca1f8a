"""The schema the migrations build is exactly the schema the models declare."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ordertrail import migrate
from ordertrail.models import Base
from tests.conftest import BACKEND, fresh_database


def _diff(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, Base.metadata)


def test_migrated_schema_matches_the_models(engine):
    assert _diff(engine) == []


def test_migrations_go_down_and_up_again(tmp_path):
    from ordertrail.db import make_engine

    with fresh_database(tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            head = migrate.current(engine)
            cfg = migrate.alembic_config()
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, "base")
            assert migrate.current(engine) is None
            migrate.upgrade(engine)
            assert migrate.current(engine) == head
            assert _diff(engine) == [], BACKEND
        finally:
            engine.dispose()
