"""Accounts, roles, administrations and the login-failure log used for throttling."""
from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from focalpoint.db import TimestampMixin, enum_column, utcnow
from focalpoint.extensions import db


class Role(StrEnum):
    STAFF = "staff"
    EXPERT = "expert"
    REVIEWER = "reviewer"
    ADMIN = "admin"


class Administration(db.Model):
    """An administration whose reviewers clear position notes (e.g. the Flemish administration)."""

    __tablename__ = "administrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Short stable code used on the command line and in exports ("BE-FED-ENV").
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)

    users: Mapped[list[User]] = relationship(back_populates="administration")

    def __str__(self) -> str:
        return self.name


class UserRole(db.Model):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[Role] = enum_column(Role, length=16, primary_key=True)


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint("email = lower(email)", name="email_lowercase"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    #: argon2id hash (argon2-cffi PasswordHasher).
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    is_enabled: Mapped[bool] = mapped_column(default=True)
    #: Bumped on logout, password change and disabling: every session cookie carries it, so older
    #: cookies stop working (Flask-Login "alternative tokens"; RELIABILITY F7).
    session_version: Mapped[int] = mapped_column(default=1)
    administration_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("administrations.id", ondelete="RESTRICT"), index=True)
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    last_login_at: Mapped[dt.datetime | None]
    #: The personal iCalendar feed: SHA-256 of the secret in its address (None = no feed). Regenerating
    #: replaces it, revoking removes it.
    calendar_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    calendar_token_created_at: Mapped[dt.datetime | None]
    #: E-mail digest of what is due and what is new: "none", "daily" or "weekly".
    digest_frequency: Mapped[str] = mapped_column(sa.String(10), default="none", server_default="none")
    #: When the last digest was written (it closes its period; the next one says what is new since then).
    last_digest_at: Mapped[dt.datetime | None]

    #: Loaded when asked for (pages that list users load them with selectinload).
    role_rows: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan")
    administration: Mapped[Administration | None] = relationship(back_populates="users", lazy="joined")

    # --- roles ---------------------------------------------------------------------------------
    @property
    def roles(self) -> set[Role]:
        return {row.role for row in self.role_rows}

    def set_roles(self, roles) -> None:
        wanted = {Role(r) for r in roles}
        self.role_rows = [row for row in self.role_rows if row.role in wanted]
        have = {row.role for row in self.role_rows}
        for role in sorted(wanted - have):
            self.role_rows.append(UserRole(role=role))

    def has_role(self, *roles) -> bool:
        mine = self.roles
        return any(Role(r) in mine for r in roles)

    @property
    def is_staff(self) -> bool:
        return self.has_role(Role.STAFF, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.has_role(Role.ADMIN)

    # --- Flask-Login ---------------------------------------------------------------------------
    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.is_enabled

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def __str__(self) -> str:
        return self.display_name


class LoginFailure(db.Model):
    """One failed login; counted per account and per address over a sliding window."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    address: Mapped[str] = mapped_column(sa.String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
