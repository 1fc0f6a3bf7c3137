"""Reports read their data in a fixed number of queries: the same with one copy of the world and with four."""
from __future__ import annotations

from contextlib import contextmanager

import sqlalchemy as sa

from reports_world import seed

PAGES = ["/reports/involvement", "/reports/balance", "/reports/consultations", "/reports/positions",
         "/reports/involvement.csv", "/reports/balance.xlsx", "/reports/consultations.csv", "/reports/positions.xlsx",
         "/reports/involvement?from=2023&to=2024&deliverable=1&deliverable=2", "/reports"]


@contextmanager
def counting(app):
    from focalpoint.extensions import db

    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def queries(app, client) -> dict[str, int]:
    out = {}
    for page in PAGES:
        client.get(page)  # warm-up (the login's own queries, caches)
        with counting(app) as statements:
            assert client.get(page).status_code == 200
        out[page] = len(statements)
    return out


def test_queries_do_not_grow_with_the_data(app, staff_client):
    seed(app)
    small = queries(app, staff_client)
    seed(app, copies=3, start=1)  # three more copies of every shape
    large = queries(app, staff_client)
    assert large == small
    # the report's own queries plus the request's (session user, deliverables list, labels)
    assert small["/reports/involvement"] <= 14 and small["/reports/positions"] <= 12
