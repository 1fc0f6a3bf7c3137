"""The migrations are the schema: they match the models, and go down and up again on both databases."""
import sqlalchemy as sa
from flask_migrate import check, downgrade, upgrade

from config import TestConfig


def _app(url):
    from focalpoint import create_app

    return create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)


def _tables(db) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_models_and_migrations_agree_and_round_trip(database_url):
    from focalpoint.extensions import db

    app = _app(database_url)
    with app.app_context():
        directory = app.extensions["migrate"].directory
        model_tables = {t.name for t in db.metadata.sorted_tables}
        upgrade(directory=directory)
        check(directory=directory)  # raises if autogenerate sees any difference
        assert _tables(db) == model_tables
        downgrade(directory=directory, revision="base")
        assert _tables(db) == set()
        upgrade(directory=directory)
        check(directory=directory)
        assert _tables(db) == model_tables
        db.engine.dispose()


def test_one_head_revision():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from focalpoint import PROJECT_DIR

    config = Config(str(PROJECT_DIR / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_DIR / "migrations"))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1
