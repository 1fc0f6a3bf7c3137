"""Error pages: a clear message, never a traceback; the 500 handler rolls back."""
from flask import Response, render_template, request
from flask_babel import gettext as _
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from focalpoint.extensions import db


def N_(text: str) -> str:
    """Marks a string for extraction; it is translated where it is shown."""
    return text


MESSAGES = {
    400: (N_("Bad request"),
          N_("The request could not be understood. If you submitted a form, reload the page and try again.")),
    401: (N_("Login required"), N_("Please log in to continue.")),
    403: (N_("Not allowed"), N_("Your account does not give access to this page.")),
    404: (N_("Not found"), N_("There is nothing at this address.")),
    405: (N_("Method not allowed"), N_("This address does not accept that kind of request.")),
    409: (N_("Conflict"),
          N_("Someone else changed this in the meantime. Reload the page to see their change.")),
    410: (N_("Gone"), N_("This link is no longer valid.")),
    413: (N_("Too large"), N_("What you sent is larger than the site accepts.")),
    429: (N_("Too many requests"), N_("Too many attempts. Wait a few minutes and try again.")),
    500: (N_("Something went wrong"),
          N_("The error has been recorded. Nothing you had saved before is lost.")),
}


def register_error_handlers(app) -> None:
    from flask_wtf.csrf import CSRFError

    def render(code: int, description: str | None = None):
        title, message = MESSAGES.get(code, MESSAGES[500])
        try:
            return render_template("errors/error.html", code=code, title=_(title),
                                   message=description or _(message)), code
        except Exception as exc:
            # No page can be rendered (a Host refused by TRUSTED_HOSTS leaves no URL adapter for
            # url_for; the database may be down): answer in plain text, still without a traceback.
            db.session.rollback()
            app.logger.warning("could not render the %s page: %s: %s", code, type(exc).__name__, exc)
            return Response(f"{title} ({code})\n\n{description or message}\n", code, mimetype="text/plain")

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render(400, _("The form has expired or was not sent from this site. Reload the page and try again."))

    @app.errorhandler(StaleDataError)
    def stale(exc):
        # Optimistic locking: someone saved the same record between our read and our write.
        db.session.rollback()
        return render(409)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        return render(exc.code)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        db.session.rollback()
        # A path holding a secret (invitation, review or registration link) is logged as its rule, never whole.
        secret_in_path = request.url_rule is not None and any(
            name in (request.view_args or {}) for name in ("token", "secret"))
        path = request.url_rule.rule if secret_in_path else request.path
        app.logger.exception("unhandled error on %s %s", request.method, path)
        return render(500)
