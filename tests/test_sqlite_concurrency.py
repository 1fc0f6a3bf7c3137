"""SQLite under several writer processes: no write fails and no update is lost (RELIABILITY F1-F3, 2.2)."""
import multiprocessing as mp

import sqlalchemy as sa

from config import TestConfig

PROCESSES = 4
INCREMENTS = 40


def _worker(url: str, source_id: int, barrier, errors) -> None:
    from focalpoint import create_app
    from focalpoint.extensions import db
    from focalpoint.notifications.models import FeedSource

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        barrier.wait()
        for _ in range(INCREMENTS):
            try:
                # ORM read-modify-write: the pattern that loses updates without BEGIN IMMEDIATE.
                source = db.session.get(FeedSource, source_id)
                source.error_count = source.error_count + 1
                db.session.commit()
            except Exception as exc:  # "database is locked" would land here
                db.session.rollback()
                errors.put(f"{type(exc).__name__}: {exc}")
        db.engine.dispose()


def test_concurrent_read_modify_write_loses_nothing_on_sqlite(tmp_path):
    from flask_migrate import upgrade

    from focalpoint import create_app
    from focalpoint.extensions import db
    from focalpoint.notifications.models import FeedSource

    url = f"sqlite:///{tmp_path / 'concurrency.db'}"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        source = FeedSource(name="counter", url="http://127.0.0.1/feed", interval_minutes=60, error_count=0)
        db.session.add(source)
        db.session.commit()
        source_id = source.id
        db.engine.dispose()

    ctx = mp.get_context("spawn")
    barrier, errors = ctx.Barrier(PROCESSES), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(url, source_id, barrier, errors)) for _ in range(PROCESSES)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert failures == []
    with app.app_context():
        assert db.session.get(FeedSource, source_id).error_count == PROCESSES * INCREMENTS
        db.engine.dispose()


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path):
    from focalpoint import create_app
    from focalpoint.extensions import db

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'p.db'}")
    with app.app_context():
        pragmas = {name: db.session.execute(sa.text(f"PRAGMA {name}")).scalar()
                   for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")}
        db.session.rollback()
        db.engine.dispose()
    assert pragmas == {"journal_mode": "wal", "busy_timeout": 10000, "foreign_keys": 1, "synchronous": 1}


def test_every_sqlite_transaction_begins_immediate(tmp_path):
    """BEGIN IMMEDIATE takes the write lock at the start, so a read-then-write cannot go stale."""
    from focalpoint import create_app
    from focalpoint.extensions import db

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'b.db'}")
    seen = []
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute",
                        lambda conn, cursor, statement, *a: seen.append(statement))
        db.session.execute(sa.text("SELECT 1"))
        db.session.commit()
        db.session.execute(sa.text("SELECT 2"))
        db.session.rollback()
        db.engine.dispose()
    assert [s for s in seen if not s.startswith("PRAGMA")] == ["BEGIN IMMEDIATE", "SELECT 1", "BEGIN IMMEDIATE", "SELECT 2"]
