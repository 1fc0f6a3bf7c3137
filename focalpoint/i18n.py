"""Language and time zone of the person looking, and the template filters that use them."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, request
from flask_babel import format_date, format_datetime, format_time, get_timezone
from flask_login import current_user


def select_locale() -> str | None:
    languages = current_app.config["LANGUAGES"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    if request:
        return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    tz = None
    if current_user and current_user.is_authenticated:
        tz = current_user.timezone
    tz = tz or current_app.config["DISPLAY_TIMEZONE"]
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        tz = "UTC"
    return tz


def local_now() -> dt.datetime:
    return dt.datetime.now(ZoneInfo(str(get_timezone())))


def local_today() -> dt.date:
    return local_now().date()


def register_filters(app) -> None:
    from flask_babel import get_locale

    app.jinja_env.globals["get_locale"] = get_locale

    @app.template_filter("dt")
    def _dt(value, fmt="medium"):
        """An aware datetime in the viewer's zone and language."""
        if value is None:
            return ""
        return format_datetime(value, fmt)

    @app.template_filter("t")
    def _t(value, fmt="short"):
        """The time of an aware datetime in the viewer's zone."""
        if value is None:
            return ""
        return format_time(value, fmt)

    @app.template_filter("d")
    def _d(value, fmt="medium"):
        if value is None:
            return ""
        return format_date(value, fmt)

    @app.template_filter("days_left")
    def _days_left(value) -> int | None:
        """Whole days from today (viewer's zone) to a date or datetime; negative when past."""
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            value = value.astimezone(ZoneInfo(str(get_timezone()))).date()
        return (value - local_today()).days
