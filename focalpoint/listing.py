"""Search, sorting and pagination parameters of a list page, read safely from the query string."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app, request, url_for
from werkzeug.datastructures import MultiDict

from focalpoint.extensions import db


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int
    pages: int

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return 0 if not self.total else (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.page * self.per_page, self.total)

    def iter_pages(self, edge: int = 1, around: int = 2):
        """Page numbers to show, with None for a gap."""
        last = 0
        for number in range(1, self.pages + 1):
            if number <= edge or number > self.pages - edge or abs(number - self.page) <= around:
                if last and number - last > 1:
                    yield None
                yield number
                last = number


class Listing:
    """``?q=&sort=&dir=&page=`` with a whitelist of sort columns."""

    def __init__(self, args: MultiDict, *, sorts: dict, default_sort: str, default_dir: str = "asc",
                 per_page: int | None = None):
        self.args = args
        self.q = (args.get("q") or "").strip()[:200]
        self.sorts = sorts
        sort = args.get("sort", default_sort)
        self.sort = sort if sort in sorts else default_sort
        direction = args.get("dir", default_dir)
        self.dir = direction if direction in ("asc", "desc") else default_dir
        try:
            self.page = max(1, min(int(args.get("page", 1)), 100000))
        except (TypeError, ValueError):
            self.page = 1
        self.per_page = per_page or current_app.config.get("PAGE_SIZE", 25)

    def like(self) -> str:
        """The search text as a LIKE pattern with its wildcards escaped."""
        escaped = self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"%{escaped}%"

    def order_by(self, stmt, tiebreak=None):
        column = self.sorts[self.sort]
        ordered = column.desc().nulls_last() if self.dir == "desc" else column.asc().nulls_last()
        stmt = stmt.order_by(ordered)
        if tiebreak is not None:
            stmt = stmt.order_by(tiebreak)
        return stmt

    def paginate(self, stmt, tiebreak=None, *, scalars: bool | None = None) -> Page:
        """One COUNT and one page query, whatever the size of the data.

        A select of one entity yields objects; a select of several columns yields rows.
        """
        if tiebreak is None:
            entity = stmt.column_descriptions[0]["entity"]
            tiebreak = entity.id if entity is not None else None
        if scalars is None:
            scalars = len(stmt.column_descriptions) == 1
        total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
        pages = max(1, -(-total // self.per_page))
        page = min(self.page, pages)
        ordered = self.order_by(stmt, tiebreak).limit(self.per_page).offset((page - 1) * self.per_page)
        result = db.session.execute(ordered)
        items = result.scalars().all() if scalars else result.all()
        return Page(items=items, page=page, per_page=self.per_page, total=total, pages=pages)

    def url(self, **changes) -> str:
        """The current list URL with some parameters changed (page reset unless given)."""
        params = MultiDict(self.args)
        if "page" not in changes:
            params.pop("page", None)
        for key, value in changes.items():
            params.pop(key, None)
            if value not in (None, ""):
                params[key] = value
        return url_for(request.endpoint, **(request.view_args or {}), **params.to_dict(flat=False))

    def sort_url(self, key: str) -> str:
        direction = "desc" if (self.sort == key and self.dir == "asc") else "asc"
        return self.url(sort=key, dir=direction)

    def aria_sort(self, key: str) -> str:
        if self.sort != key:
            return "none"
        return "ascending" if self.dir == "asc" else "descending"
