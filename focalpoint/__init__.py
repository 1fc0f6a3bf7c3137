"""Focal Point: the workbench of a national focal point to IPBES."""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent


def create_app(config=None, **overrides) -> Flask:
    """Build the application: configuration, extensions, blueprints, hooks and commands.

    Starts no scheduler and touches no database (STYLE 2.3.1): ``focalpoint init`` migrates,
    ``focalpoint serve`` / ``focalpoint scheduler`` run the jobs.
    """
    from config import get_config

    config_cls = config if isinstance(config, type) else get_config(config)
    instance_path = os.environ.get("FOCALPOINT_INSTANCE") or str(PROJECT_DIR / "instance")
    app = Flask(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        template_folder=str(PROJECT_DIR / "templates"),
        static_folder="static",
    )
    app.config.from_object(config_cls)
    if not app.testing:
        # Read at start-up, not at import: the environment of this process is what counts.
        for name, env in (("SECRET_KEY", "SECRET_KEY"), ("SQLALCHEMY_DATABASE_URI", "DATABASE_URL")):
            if os.environ.get(env):
                app.config[name] = os.environ[env]
    app.config.update(overrides)
    _configure_secrets_and_database(app, config_cls)
    _configure_logging(app)

    from focalpoint import extensions as ext

    ext.db.init_app(app)
    ext.migrate.init_app(app, ext.db, directory=str(PROJECT_DIR / "migrations"),
                         compare_type=True, render_as_batch=True)
    ext.csrf.init_app(app)
    ext.login_manager.init_app(app)
    ext.login_manager.login_view = "auth.login"
    ext.login_manager.login_message = None
    ext.login_manager.session_protection = "basic"
    ext.bootstrap.init_app(app)

    from focalpoint import i18n

    ext.babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone,
                       default_translation_directories=str(PACKAGE_DIR / "translations"))
    i18n.register_filters(app)

    _register_models()
    _register_blueprints(app)
    _register_hooks(app)

    from focalpoint.core.errors import register_error_handlers

    register_error_handlers(app)

    from focalpoint.cli import register_commands

    register_commands(app)
    return app


def _configure_secrets_and_database(app: Flask, config_cls) -> None:
    if hasattr(config_cls, "validate"):
        config_cls.validate()
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "focalpoint.db")
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgres://"):  # the Heroku-style scheme SQLAlchemy no longer accepts
        uri = "postgresql+psycopg://" + uri[len("postgres://"):]
    elif uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri[len("postgresql://"):]
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    if uri.startswith("sqlite"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options.pop("pool_pre_ping", None)
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("timeout", 10)
        connect_args.setdefault("check_same_thread", False)
        options["connect_args"] = connect_args
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _local_secret_key(Path(app.instance_path))


def _local_secret_key(instance: Path) -> str:
    """A local install's key: generated once, kept in the instance folder (mode 0600).

    Written to a temporary file and linked into place, so two processes starting at once (the web
    server and the scheduler) both end up reading the same complete key.
    """
    os.makedirs(instance, exist_ok=True)
    key_file = instance / "secret_key"
    if not key_file.exists():
        tmp = instance / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, key_file)  # atomic; fails if another process won
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return key_file.read_text().strip()


def _configure_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _register_models() -> None:
    # Import every model module so the metadata is complete (migrations, relationships by name).
    from focalpoint import audit, mail  # noqa: F401
    from focalpoint.consultations import models as _consultations  # noqa: F401
    from focalpoint.events import models as _events  # noqa: F401
    from focalpoint.experts import models as _experts  # noqa: F401
    from focalpoint.invitations import models as _invitations  # noqa: F401
    from focalpoint.nominations import models as _nominations  # noqa: F401
    from focalpoint.auth import models as _auth  # noqa: F401
    from focalpoint.notifications import models as _notifications  # noqa: F401
    from focalpoint.positions import models as _positions  # noqa: F401
    from focalpoint.reference import models as _reference  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from focalpoint.admin.views import bp as admin_bp
    from focalpoint.auth.views import bp as auth_bp
    from focalpoint.consultations import review_views as _review_views  # noqa: F401 (routes on the blueprint)
    from focalpoint.consultations import views as _consultation_views  # noqa: F401
    from focalpoint.consultations.blueprint import bp as consultations_bp
    from focalpoint.core.views import bp as core_bp
    from focalpoint.due.views import bp as due_bp
    from focalpoint.events.views import bp as events_bp
    from focalpoint.experts.views import bp as experts_bp
    from focalpoint.invitations.views import bp as invitations_bp
    from focalpoint.mail_views import bp as outbox_bp
    from focalpoint.nominations.views import bp as nominations_bp
    from focalpoint.notifications.views import bp as notifications_bp
    from focalpoint.positions.plenary_views import bp as plenary_bp
    from focalpoint.positions.views import bp as positions_bp
    from focalpoint.reports.views import bp as reports_bp

    for bp in (core_bp, auth_bp, admin_bp, notifications_bp, experts_bp, nominations_bp, invitations_bp,
               consultations_bp, events_bp, plenary_bp, positions_bp, due_bp, reports_bp, outbox_bp):
        app.register_blueprint(bp)


def _register_hooks(app: Flask) -> None:
    from focalpoint.security import enforce_access, set_security_headers

    app.before_request(enforce_access)
    app.after_request(set_security_headers)
