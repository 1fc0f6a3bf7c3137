"""Expert registry actions: records, tags and past roles, CVs, consent, personal data export and
erasure, merging duplicates, spreadsheet import and export.

Services flush and never commit; the request or command that calls them commits once. Files follow
the transaction: a CV written during a request is removed again if the transaction rolls back, and a
CV replaced or erased is deleted only once the change is committed.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import secrets
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

import sqlalchemy as sa
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from focalpoint.audit import AuditEntry, log_action
from focalpoint.db import utcnow
from focalpoint.experts.models import (Availability, CareerStage, Expert, ExpertStatus, Gender, PastRole,
                                       expert_deliverables, expert_terms)
from focalpoint.extensions import db
from focalpoint.reference.models import Deliverable, ReferenceTerm
from focalpoint.reference.services import country_regions


class ExpertError(ValueError):
    """A user-facing refusal (the message is shown as is); ``field`` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


# --- labels and vocabularies -------------------------------------------------------------------------
GENDER_LABELS = {
    Gender.FEMALE: _l("Female"),
    Gender.MALE: _l("Male"),
    Gender.NON_BINARY: _l("Non-binary"),
    Gender.UNDISCLOSED: _l("Prefers not to say"),
}
CAREER_STAGE_LABELS = {
    CareerStage.EARLY: _l("Early career"),
    CareerStage.MID: _l("Mid career"),
    CareerStage.SENIOR: _l("Senior"),
}
AVAILABILITY_LABELS = {
    Availability.AVAILABLE: _l("Available"),
    Availability.LIMITED: _l("Limited availability"),
    Availability.UNAVAILABLE: _l("Not available"),
}
STATUS_LABELS = {
    ExpertStatus.ACTIVE: _l("Active"),
    ExpertStatus.PENDING_REVIEW: _l("Pending review"),
    ExpertStatus.ERASED: _l("Erased"),
}
#: Languages an expert may work in (ISO 639-1): the UN languages and those of the focal points' countries.
LANGUAGE_LABELS = {
    "en": _l("English"), "fr": _l("French"), "nl": _l("Dutch"), "de": _l("German"), "es": _l("Spanish"),
    "pt": _l("Portuguese"), "it": _l("Italian"), "ar": _l("Arabic"), "zh": _l("Chinese"), "ru": _l("Russian"),
}
#: Languages e-mails can be written in (the interface's languages).
MAIL_LANGUAGES = ("en", "fr", "nl")
#: Vocabularies whose terms are attached to experts as tags, and the form/filter name of each.
TAG_VOCABULARIES = {"discipline": "disciplines", "expert_role": "roles_wanted", "gbf_target": "gbf_targets",
                    "ecosystem": "ecosystems"}

ORCID_RE = re.compile(r"^(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dX])$")
ORCID_PREFIX = re.compile(r"^(https?://)?(www\.)?orcid\.org/", re.I)
FIELD_LIMITS = {"first_name": 100, "last_name": 100, "email": 254, "affiliation": 300, "availability_note": 500}


def split_list(value: str | None) -> list[str]:
    """``"a; b;;c"`` → ``["a", "b", "c"]`` (lists in forms, files and columns are ";"-separated)."""
    return [part.strip() for part in (value or "").split(";") if part.strip()]


def join_list(values: Iterable[str]) -> str:
    return "; ".join(v for v in values if v)


def _add_unique(existing: list[str], new: Iterable[str]) -> list[str]:
    """``existing`` followed by the values of ``new`` it does not hold yet (compared case-insensitively)."""
    seen = {v.casefold() for v in existing}
    out = list(existing)
    for value in new:
        if value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return out


# --- ORCID, e-mail, names --------------------------------------------------------------------------------
def orcid_checksum(base_digits: str) -> str:
    """The ISO 7064 11,2 check character of the first 15 digits of an ORCID iD."""
    total = 0
    for digit in base_digits:
        total = (total + int(digit)) * 2
    result = (12 - total % 11) % 11
    return "X" if result == 10 else str(result)


def normalise_orcid(value: str | None) -> str | None:
    """``0000-0002-1825-0097`` from that, from ``https://orcid.org/…`` or without dashes; None when empty.

    Raises ExpertError when the form or the check digit is wrong.
    """
    value = (value or "").strip()
    if not value:
        return None
    value = ORCID_PREFIX.sub("", value).strip().upper()
    match = ORCID_RE.match(value)
    if not match:
        raise ExpertError(_("Invalid ORCID: it has the form 0000-0002-1825-0097."), "orcid")
    digits = "".join(match.groups())
    if orcid_checksum(digits[:15]) != digits[15]:
        raise ExpertError(_("Invalid ORCID: the check digit does not match."), "orcid")
    return "-".join(match.groups())


#: A plain ASCII address (a strict subset of what email-validator accepts): dot-atoms and hostname labels.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_EMAIL = re.compile(rf"^({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})$")


def normalise_email(value: str | None) -> str:
    """A valid address, lower-cased; raises ExpertError otherwise (empty included)."""
    value = (value or "").strip()
    if not value:
        raise ExpertError(_("An e-mail address is required."), "email")
    if len(value) > FIELD_LIMITS["email"]:
        raise ExpertError(_("The e-mail address is too long."), "email")
    match = _PLAIN_EMAIL.match(value)
    if match and len(match.group(1)) <= 64 and match.group(2).rsplit(".", 1)[-1].lower() not in SPECIAL_USE_DOMAIN_NAMES:
        # The common case, checked at once (imports validate thousands); anything else goes to email-validator.
        return value.lower()
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise ExpertError(_("Invalid e-mail address: %(v)s", v=value), "email") from None


def _fold(value: str | None) -> str:
    """Lower case, accents removed, punctuation as spaces: "Jean-Pierre Dupré" → "jean pierre dupre"."""
    decomposed = unicodedata.normalize("NFKD", value or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", stripped).split())


def name_key(first_name: str | None, last_name: str | None) -> tuple[str, str] | None:
    """Two records with the same key are probably one person: accents and case ignored, and first and
    last names swapped ("Peeters Jan" = "Jan Peeters"). None for a record without a name."""
    parts = sorted((_fold(first_name), _fold(last_name)))
    return tuple(parts) if any(parts) else None


# --- loading ----------------------------------------------------------------------------------------------
def get_expert_for_user(user) -> Expert | None:
    """The registry record linked to ``user`` (None when there is none, or it was erased or merged)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(sa.select(Expert).where(Expert.user_id == user.id, Expert.merged_into_id.is_(None),
                                                     Expert.status != ExpertStatus.ERASED))


def sorted_deliverables(expert: Expert) -> list[Deliverable]:
    """The expert's deliverables in a stable order (by code)."""
    return sorted(expert.deliverables, key=lambda d: d.code)


def terms_by_vocabulary() -> dict[str, list[ReferenceTerm]]:
    rows = db.session.scalars(sa.select(ReferenceTerm).where(ReferenceTerm.vocabulary.in_(list(TAG_VOCABULARIES)))
                              .order_by(ReferenceTerm.vocabulary, ReferenceTerm.position)).all()
    out: dict[str, list[ReferenceTerm]] = {v: [] for v in TAG_VOCABULARIES}
    for term in rows:
        out[term.vocabulary].append(term)
    return out


def all_deliverables() -> list[Deliverable]:
    return db.session.scalars(sa.select(Deliverable).order_by(Deliverable.short_name)).all()


# --- creating and editing ---------------------------------------------------------------------------------
#: Fields an expert keeps on their own profile (staff also set notes, status, e-mail and the linked account).
PROFILE_FIELDS = ("first_name", "last_name", "affiliation", "region", "gender", "career_stage", "orcid", "keywords",
                  "languages", "preferred_language", "availability", "availability_note")
STAFF_FIELDS = PROFILE_FIELDS + ("email", "notes", "status", "user_id")


def _check_unique(expert: Expert | None, column, value, message: str, field_name: str) -> None:
    if value is None:
        return
    stmt = sa.select(Expert.id).where(column == value)
    if expert is not None and expert.id is not None:
        stmt = stmt.where(Expert.id != expert.id)
    other = db.session.scalar(stmt)
    if other is not None:
        raise ExpertError(message % {"id": other}, field_name)


def _clean(data: dict, fields: Iterable[str]) -> dict:
    """Validated values of ``fields`` from ``data`` (form data or a dict)."""
    out = {}
    regions = country_regions()
    for name in fields:
        if name not in data:
            continue
        value = data[name]
        if name == "email":
            value = normalise_email(value)
        elif name == "orcid":
            value = normalise_orcid(value)
        elif name == "region":
            value = value or None
            if value is not None and value not in regions:
                raise ExpertError(_("Unknown region: %(v)s", v=value), "region")
        elif name == "gender":
            value = Gender(value) if value else None
        elif name == "career_stage":
            value = CareerStage(value) if value else None
        elif name == "availability":
            value = Availability(value or Availability.AVAILABLE)
        elif name == "status":
            value = ExpertStatus(value)
            if value == ExpertStatus.ERASED:
                raise ExpertError(_("Erase a record with the erasure action, not by its status."), "status")
        elif name == "languages":
            codes = value if isinstance(value, (list, tuple)) else split_list(value)
            value = ";".join(dict.fromkeys(c.strip().lower() for c in codes if c.strip()))
            if len(value) > 100:
                raise ExpertError(_("Too many languages."), "languages")
        elif name == "keywords":
            items = value if isinstance(value, (list, tuple)) else split_list(value)
            value = join_list(dict.fromkeys(i.strip() for i in items if i.strip()))
        elif name == "preferred_language":
            value = value if value in MAIL_LANGUAGES else "en"
        elif name == "user_id":
            value = value or None
        elif isinstance(value, str):
            value = value.strip()
            limit = FIELD_LIMITS.get(name)
            if limit and len(value) > limit:
                raise ExpertError(_("At most %(n)d characters.", n=limit), name)
        out[name] = value
    return out


def _set_tags(expert: Expert, terms: Iterable[ReferenceTerm] | None, deliverables: Iterable[Deliverable] | None):
    changed = []
    if terms is not None:
        terms = list(dict.fromkeys(terms))
        if {t.id for t in terms} != {t.id for t in expert.terms}:
            expert.terms = sorted(terms, key=lambda t: (t.vocabulary, t.position))
            changed.append("tags")
    if deliverables is not None:
        deliverables = list(dict.fromkeys(deliverables))
        if {d.id for d in deliverables} != {d.id for d in expert.deliverables}:
            expert.deliverables = deliverables
            changed.append("deliverables")
    return changed


def create_expert(data: dict, *, actor, terms=None, deliverables=None, fields=STAFF_FIELDS) -> Expert:
    """A new record from validated form data (raises ExpertError on a duplicate e-mail or ORCID)."""
    values = _clean(data, fields)
    if "email" not in values:
        raise ExpertError(_("An e-mail address is required."), "email")
    _check_unique(None, Expert.email, values["email"],
                  _("An expert with this e-mail address already exists (#%(id)s)."), "email")
    _check_unique(None, Expert.orcid, values.get("orcid"),
                  _("An expert with this ORCID already exists (#%(id)s)."), "orcid")
    _check_unique(None, Expert.user_id, values.get("user_id"),
                  _("This account is already linked to expert #%(id)s."), "user_email")
    expert = Expert(**values)
    db.session.add(expert)
    _set_tags(expert, terms or [], deliverables or [])
    db.session.flush()
    log_action(expert, "expert.created", actor=actor, data={"source": "form"})
    return expert


def update_expert(expert: Expert, data: dict, *, actor, terms=None, deliverables=None,
                  fields=STAFF_FIELDS) -> list[str]:
    """Apply validated form data; returns the names of the fields that changed (the audit entry lists
    names only, never values, so the trail holds no personal data)."""
    if expert.status == ExpertStatus.ERASED or expert.merged_into_id is not None:
        raise ExpertError(_("This record can no longer be changed."))
    values = _clean(data, fields)
    if "email" in values:
        _check_unique(expert, Expert.email, values["email"],
                      _("An expert with this e-mail address already exists (#%(id)s)."), "email")
    if "orcid" in values:
        _check_unique(expert, Expert.orcid, values["orcid"],
                      _("An expert with this ORCID already exists (#%(id)s)."), "orcid")
    if "user_id" in values:
        _check_unique(expert, Expert.user_id, values["user_id"],
                      _("This account is already linked to expert #%(id)s."), "user_email")
    changed = [name for name, value in values.items() if getattr(expert, name) != value]
    for name in changed:
        setattr(expert, name, values[name])
    changed += _set_tags(expert, terms, deliverables)
    if changed:
        db.session.flush()
        log_action(expert, "expert.updated", actor=actor, data={"fields": changed})
    return changed


def add_past_role(expert: Expert, *, role: str, actor, deliverable: Deliverable | None = None,
                  deliverable_text: str = "", year_from: int | None = None, year_to: int | None = None,
                  source: str = "declared", nomination_id: int | None = None) -> PastRole:
    if not role:
        raise ExpertError(_("Say which role."), "role")
    if deliverable is None and not (deliverable_text or "").strip():
        raise ExpertError(_("Say which deliverable."), "deliverable_id")
    if year_from and year_to and year_to < year_from:
        raise ExpertError(_("The end year is before the start year."), "year_to")
    past = PastRole(role=role, deliverable=deliverable, deliverable_text=(deliverable_text or "").strip()[:300],
                    year_from=year_from, year_to=year_to, source=source, nomination_id=nomination_id)
    expert.roles_held.append(past)
    db.session.flush()
    log_action(expert, "expert.past_role_added", actor=actor, data={"past_role_id": past.id, "role": role})
    return past


def remove_past_role(expert: Expert, past: PastRole, *, actor) -> None:
    if past.expert_id != expert.id:
        raise ExpertError(_("This role belongs to another record."))
    expert.roles_held.remove(past)
    db.session.flush()
    log_action(expert, "expert.past_role_removed", actor=actor, data={"past_role_id": past.id, "role": past.role})


# --- files that follow the transaction -------------------------------------------------------------------
_DELETE_ON_COMMIT = "focalpoint_delete_on_commit"
_DELETE_ON_ROLLBACK = "focalpoint_delete_on_rollback"


def _unlink(paths) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


@event.listens_for(Session, "after_commit")
def _files_after_commit(session):
    _unlink(session.info.pop(_DELETE_ON_COMMIT, ()))
    session.info.pop(_DELETE_ON_ROLLBACK, None)


@event.listens_for(Session, "after_rollback")
def _files_after_rollback(session):
    _unlink(session.info.pop(_DELETE_ON_ROLLBACK, ()))
    session.info.pop(_DELETE_ON_COMMIT, None)


def _delete_when_committed(path: Path) -> None:
    db.session.info.setdefault(_DELETE_ON_COMMIT, []).append(str(path))


def _delete_if_rolled_back(path: Path) -> None:
    db.session.info.setdefault(_DELETE_ON_ROLLBACK, []).append(str(path))


# --- CVs ------------------------------------------------------------------------------------------------
CV_TYPES = {"pdf": "application/pdf",
            "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
#: Zip checks (ASVS 5.2.3), applied to the entries' declared sizes without extracting anything.
ZIP_MAX_ENTRIES = 1000
ZIP_MAX_TOTAL = 100 * 1024 * 1024
ZIP_MAX_RATIO = 100
CV_NAME = re.compile(r"^[0-9a-f]{32}\.(pdf|docx)$")


def check_zip(data: bytes, *, required: Iterable[str] = (), max_total: int = ZIP_MAX_TOTAL,
              max_ratio: int = ZIP_MAX_RATIO, max_entries: int = ZIP_MAX_ENTRIES) -> list[str]:
    """The entry names of a ZIP archive that is safe to open; raises ExpertError otherwise.

    Refuses what is not a ZIP, too many entries, entries whose declared sizes add up to more than
    ``max_total`` or expand more than ``max_ratio`` times, and archives lacking a ``required`` entry.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError):
        raise ExpertError(_("The file is damaged or not of an accepted type.")) from None
    if len(infos) > max_entries:
        raise ExpertError(_("The file holds too many parts to be opened safely."))
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > max_total or total > max_ratio * max(packed, 1) or any(
            i.file_size > max_ratio * max(i.compress_size, 1) and i.file_size > 1024 * 1024 for i in infos):
        raise ExpertError(_("The file expands to much more than its size: refused as unsafe."))
    names = [i.filename for i in infos]
    if any(name not in names for name in required):
        raise ExpertError(_("The file is damaged or not of an accepted type."))
    return names


def cv_kind(data: bytes) -> str:
    """``pdf`` or ``docx``, read from the content (never from the name); raises ExpertError otherwise."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        check_zip(data, required=("[Content_Types].xml", "word/document.xml"))
        return "docx"
    raise ExpertError(_("A CV must be a PDF or a Word (DOCX) document."))


def cv_max_bytes() -> int:
    return int(current_app.config.get("CV_MAX_MB", 5)) * 1024 * 1024


def read_upload(stream, limit: int) -> bytes:
    """At most ``limit`` bytes of an uploaded file; raises ExpertError when it is larger."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ExpertError(_("The file is larger than %(n)d MB.", n=limit // (1024 * 1024)))
    return data


def cv_dir() -> Path:
    return Path(current_app.instance_path) / "cvs"


def cv_path(expert: Expert) -> Path | None:
    """Where the expert's CV is stored (None when there is none, or the stored name is not one of ours)."""
    if not expert.cv_file or not CV_NAME.match(expert.cv_file):
        return None
    return cv_dir() / expert.cv_file


def _client_filename(filename: str | None) -> str:
    """The last part of the name the browser sent, without control characters (shown, never used as a path)."""
    name = PureWindowsPath(PurePosixPath(filename or "").name).name
    name = "".join(ch for ch in name if ch.isprintable() and ch not in "/\\")
    return name.strip().lstrip(".")[:200] or "cv"


def cv_download_name(expert: Expert) -> str:
    """An ASCII file name for the download: the client's name made safe, with the extension of the content."""
    ext = "docx" if expert.cv_content_type == CV_TYPES["docx"] else "pdf"
    stem = Path(expert.cv_filename or "cv").stem
    folded = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", folded).strip("._-")[:80] or "cv"
    return f"{safe}.{ext}"


def store_cv(expert: Expert, data: bytes, filename: str | None, *, actor) -> None:
    """Check and keep a CV for ``expert``, replacing the previous one (deleted once committed)."""
    if len(data) > cv_max_bytes():
        raise ExpertError(_("The file is larger than %(n)d MB.", n=cv_max_bytes() // (1024 * 1024)))
    if not data:
        raise ExpertError(_("The file is empty."))
    kind = cv_kind(data)
    folder = cv_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{kind}"
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    _delete_if_rolled_back(path)
    old = cv_path(expert)
    if old is not None:
        _delete_when_committed(old)
    expert.cv_file = name
    expert.cv_filename = _client_filename(filename)
    expert.cv_content_type = CV_TYPES[kind]
    expert.cv_size = len(data)
    expert.cv_uploaded_at = utcnow()
    db.session.flush()
    log_action(expert, "expert.cv_uploaded", actor=actor, data={"type": kind, "size": len(data),
                                                                "replaced": old is not None})


def _clear_cv(expert: Expert) -> bool:
    old = cv_path(expert)
    if old is not None:
        _delete_when_committed(old)
    had = expert.cv_file is not None
    expert.cv_file = expert.cv_filename = expert.cv_content_type = None
    expert.cv_size = None
    expert.cv_uploaded_at = None
    return had


def remove_cv(expert: Expert, *, actor) -> None:
    if _clear_cv(expert):
        db.session.flush()
        log_action(expert, "expert.cv_removed", actor=actor)


# --- consent ---------------------------------------------------------------------------------------------
def consent_text_version() -> str:
    return current_app.config.get("CONSENT_TEXT_VERSION") or "2026-1"


def give_consent(expert: Expert, *, contact: bool, processing: bool, actor) -> None:
    """Record the consents ticked (now, with the current text version); unticked ones are withdrawn."""
    now, version = utcnow(), consent_text_version()
    before = (expert.consent_contact_at is not None, expert.consent_processing_at is not None,
              expert.consent_text_version)
    new_text = expert.consent_text_version != version
    if not contact:
        expert.consent_contact_at = None
    elif expert.consent_contact_at is None or new_text:
        expert.consent_contact_at = now
    if not processing:
        expert.consent_processing_at = None
    elif expert.consent_processing_at is None or new_text:
        expert.consent_processing_at = now
    expert.consent_text_version = version if (contact or processing) else None
    after = (contact, processing, expert.consent_text_version)
    if after != before:
        db.session.flush()
        log_action(expert, "expert.consent", actor=actor,
                   data={"contact": contact, "processing": processing, "text_version": version})


def withdraw_consent(expert: Expert, *, actor) -> None:
    give_consent(expert, contact=False, processing=False, actor=actor)


# --- personal data: export, erasure ------------------------------------------------------------------------
def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def personal_data(expert: Expert) -> dict:
    """Everything held about ``expert``, for the person themselves (GDPR art. 15 and 20)."""
    from focalpoint.invitations.models import Invitation
    from focalpoint.nominations.models import Nomination

    invitations = db.session.scalars(sa.select(Invitation).where(Invitation.expert_id == expert.id)
                                     .order_by(Invitation.id)).all()
    nominations = db.session.scalars(sa.select(Nomination).where(Nomination.expert_id == expert.id)
                                     .order_by(Nomination.id)).all()
    consent_history = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.object_type == Expert.__tablename__, AuditEntry.object_id == expert.id,
                                    AuditEntry.action == "expert.consent")
        .order_by(AuditEntry.at, AuditEntry.id)).all()
    return {
        "exported_at": utcnow().isoformat(),
        "profile": {
            "id": expert.id, "first_name": expert.first_name, "last_name": expert.last_name, "email": expert.email,
            "affiliation": expert.affiliation, "region": expert.region,
            "gender": expert.gender.value if expert.gender else None,
            "career_stage": expert.career_stage.value if expert.career_stage else None,
            "orcid": expert.orcid, "keywords": split_list(expert.keywords), "languages": split_list(expert.languages),
            "preferred_language": expert.preferred_language, "availability": expert.availability.value,
            "availability_note": expert.availability_note, "status": expert.status.value,
            "staff_notes": expert.notes, "created_at": _iso(expert.created_at), "updated_at": _iso(expert.updated_at),
            "erasure_requested_at": _iso(expert.erasure_requested_at),
            "user_account": expert.user.email if expert.user else None,
        },
        "tags": {key: [{"code": t.code, "label": t.label} for t in expert.terms_of(vocabulary)]
                 for vocabulary, key in TAG_VOCABULARIES.items()},
        "deliverables": [{"code": d.code, "name": d.short_name} for d in sorted_deliverables(expert)],
        "past_roles": [{"role": r.role, "deliverable": r.deliverable.code if r.deliverable else None,
                        "deliverable_text": r.deliverable_text, "year_from": r.year_from, "year_to": r.year_to,
                        "source": r.source} for r in expert.roles_held],
        "invitations": [{"call": i.call.title, "state": i.state.value, "sent_at": _iso(i.sent_at),
                         "responded_at": _iso(i.responded_at), "role_wanted": i.role_wanted,
                         "motivation": i.motivation, "availability": i.availability, "has_conflict": i.has_conflict,
                         "conflict_note": i.conflict_note, "decline_reason": i.decline_reason,
                         "subject": i.subject} for i in invitations],
        "nominations": [{"call": n.call.title, "state": n.state.value, "role": n.role,
                         "selected_role": n.selected_role, "submitted_at": _iso(n.submitted_at),
                         "decided_at": _iso(n.decided_at), "rationale": n.rationale} for n in nominations],
        "consent": {
            "contact_at": _iso(expert.consent_contact_at), "processing_at": _iso(expert.consent_processing_at),
            "text_version": expert.consent_text_version,
            "history": [{"at": _iso(e.at), "contact": e.data.get("contact"), "processing": e.data.get("processing"),
                         "text_version": e.data.get("text_version")} for e in consent_history],
        },
        "cv": None if not expert.cv_file else {
            "filename": expert.cv_filename, "content_type": expert.cv_content_type, "size": expert.cv_size,
            "uploaded_at": _iso(expert.cv_uploaded_at)},
    }


def request_erasure(expert: Expert, *, actor) -> None:
    if expert.erasure_requested_at is None:
        expert.erasure_requested_at = utcnow()
        db.session.flush()
        log_action(expert, "expert.erasure_requested", actor=actor)


def cancel_erasure_request(expert: Expert, *, actor) -> None:
    if expert.erasure_requested_at is not None and expert.status != ExpertStatus.ERASED:
        expert.erasure_requested_at = None
        db.session.flush()
        log_action(expert, "expert.erasure_cancelled", actor=actor)


def erase_expert(expert: Expert, *, actor) -> None:
    """Remove the person's data, keep the row (status ERASED) so nominations and invitations still count.

    Blanks every personal field, deletes the CV (once committed), tags, declared and recorded past
    roles and the free text of their invitation answers and nominations, drops mail queued or sent to
    them, disables a linked account used only as an expert (anonymising it) or unlinks any other, and
    erases records merged into this one. The audit trail keeps only that the erasure happened.
    """
    from focalpoint.auth.models import Role, User
    from focalpoint.auth.services import revoke_sessions
    from focalpoint.invitations.models import Invitation
    from focalpoint.mail import OutboxMessage
    from focalpoint.nominations.models import Nomination

    if expert.status == ExpertStatus.ERASED:
        return
    requested = expert.erasure_requested_at
    for tombstone in db.session.scalars(sa.select(Expert).where(Expert.merged_into_id == expert.id)).all():
        erase_expert(tombstone, actor=actor)
    addresses = [a for a in (expert.email,) if a]
    user = db.session.get(User, expert.user_id) if expert.user_id else None
    expert.user = None
    expert.user_id = None
    if user is not None:
        if user.roles <= {Role.EXPERT}:
            addresses.append(user.email)
            user.is_enabled = False
            user.name = ""
            user.email = f"erased-user-{user.id}@erased.invalid"
            user.password_hash = None
            revoke_sessions(user)
    if addresses:
        db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.to_addr.in_(addresses)))
    _clear_cv(expert)
    expert.first_name = expert.last_name = expert.affiliation = expert.keywords = expert.languages = ""
    expert.availability_note = expert.notes = ""
    expert.email = expert.orcid = expert.region = None
    expert.gender = expert.career_stage = None
    expert.preferred_language = "en"
    expert.consent_contact_at = expert.consent_processing_at = None
    expert.consent_text_version = None
    expert.terms = []
    expert.deliverables = []
    expert.roles_held = []
    expert.status = ExpertStatus.ERASED
    expert.erased_at = utcnow()
    for invitation in db.session.scalars(sa.select(Invitation).where(Invitation.expert_id == expert.id)):
        invitation.motivation = invitation.availability = invitation.conflict_note = ""
        invitation.decline_reason = invitation.body = invitation.subject = ""
    for nomination in db.session.scalars(sa.select(Nomination).where(Nomination.expert_id == expert.id)):
        nomination.rationale = ""
    # Earlier entries about the record may name what changed; keep the actions, drop the details.
    db.session.execute(sa.update(AuditEntry).where(AuditEntry.object_type == Expert.__tablename__,
                                                   AuditEntry.object_id == expert.id).values(data={}))
    db.session.flush()
    log_action(expert, "expert.erased", actor=actor,
               data={"requested": requested is not None, "requested_on": requested.date() if requested else None})


def erasure_request_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Expert).where(
        Expert.erasure_requested_at.isnot(None), Expert.status != ExpertStatus.ERASED))


def erasure_requests() -> list[Expert]:
    return db.session.scalars(sa.select(Expert).where(Expert.erasure_requested_at.isnot(None),
                                                      Expert.status != ExpertStatus.ERASED)
                              .order_by(Expert.erasure_requested_at)).all()


# --- duplicates and merging ----------------------------------------------------------------------------
def _live():
    """Records that take part in the registry (not erased, not merged into another)."""
    return sa.and_(Expert.merged_into_id.is_(None), Expert.status != ExpertStatus.ERASED)


def duplicate_groups() -> list[list[Expert]]:
    """Records whose names are the same once accents, case and order are ignored, in groups of 2+."""
    rows = db.session.execute(sa.select(Expert.id, Expert.first_name, Expert.last_name).where(_live())
                              .order_by(Expert.id)).all()
    groups: dict[tuple, list[int]] = {}
    for expert_id, first, last in rows:
        key = name_key(first, last)
        if key is not None:
            groups.setdefault(key, []).append(expert_id)
    ids = [group for group in groups.values() if len(group) > 1]
    wanted = {i for group in ids for i in group}
    experts = {e.id: e for e in db.session.scalars(sa.select(Expert).where(Expert.id.in_(wanted)))} if wanted else {}
    return sorted(([experts[i] for i in group] for group in ids),
                  key=lambda g: (_fold(g[0].last_name), _fold(g[0].first_name)))


def similar_experts(expert: Expert) -> list[Expert]:
    """Other live records whose name has the same key (accents folding is not portable to SQL, so the
    names are compared in Python: three columns of every record, then the few matches loaded)."""
    key = name_key(expert.first_name, expert.last_name)
    if key is None:
        return []
    rows = db.session.execute(sa.select(Expert.id, Expert.first_name, Expert.last_name)
                              .where(_live(), Expert.id != expert.id)).all()
    ids = [i for i, first, last in rows if name_key(first, last) == key]
    if not ids:
        return []
    return db.session.scalars(sa.select(Expert).where(Expert.id.in_(ids)).order_by(Expert.id)).all()


@dataclass
class MergePlan:
    keep: Expert
    other: Expert
    #: (field, value kept now, value after the merge) for the fields the other record fills in.
    fields: list[tuple[str, object, object]] = field(default_factory=list)
    tags_added: list[ReferenceTerm] = field(default_factory=list)
    deliverables_added: list[Deliverable] = field(default_factory=list)
    keywords_added: list[str] = field(default_factory=list)
    languages_added: list[str] = field(default_factory=list)
    past_roles: list[PastRole] = field(default_factory=list)
    nominations_moved: list = field(default_factory=list)
    nominations_kept_apart: list = field(default_factory=list)
    invitations_moved: list = field(default_factory=list)
    invitations_kept_apart: list = field(default_factory=list)
    #: "move" (the kept record has none), "drop" (the kept record has its own: the other's is deleted) or None.
    cv: str | None = None
    #: "move", "unlink" (the kept record has its own account) or None.
    user: str | None = None
    consent: bool = False
    notes: bool = False


FILLABLE = ("first_name", "last_name", "affiliation", "region", "gender", "career_stage", "orcid", "availability_note")
#: Names of the fields a merge may fill in, as shown in its preview.
FIELD_LABELS = {"first_name": _l("First name"), "last_name": _l("Last name"), "affiliation": _l("Affiliation"),
                "region": _l("Region"), "gender": _l("Gender"), "career_stage": _l("Career stage"),
                "orcid": _l("ORCID iD"), "availability_note": _l("About the availability"), "status": _l("Status")}


def plan_merge(keep: Expert, other: Expert) -> MergePlan:
    """What merging ``other`` into ``keep`` will do (nothing is changed)."""
    from focalpoint.invitations.models import Invitation
    from focalpoint.nominations.models import Nomination

    if keep.id == other.id:
        raise ExpertError(_("Choose two different records."))
    for expert in (keep, other):
        if expert.status == ExpertStatus.ERASED or expert.merged_into_id is not None:
            raise ExpertError(_("Record #%(id)s was erased or merged already.", id=expert.id))
        if expert.erasure_requested_at is not None:
            raise ExpertError(_("Record #%(id)s has an erasure request: handle it first.", id=expert.id))
    plan = MergePlan(keep=keep, other=other)
    for name in FILLABLE:
        mine, theirs = getattr(keep, name), getattr(other, name)
        if not mine and theirs:
            plan.fields.append((name, mine, theirs))
    if keep.status == ExpertStatus.PENDING_REVIEW and other.status == ExpertStatus.ACTIVE:
        plan.fields.append(("status", keep.status, other.status))
    have = {t.id for t in keep.terms}
    plan.tags_added = sorted((t for t in other.terms if t.id not in have), key=lambda t: (t.vocabulary, t.position))
    have = {d.id for d in keep.deliverables}
    plan.deliverables_added = [d for d in other.deliverables if d.id not in have]
    mine_kw = split_list(keep.keywords)
    plan.keywords_added = _add_unique(mine_kw, split_list(other.keywords))[len(mine_kw):]
    mine_lang = split_list(keep.languages)
    plan.languages_added = _add_unique(mine_lang, split_list(other.languages))[len(mine_lang):]
    plan.past_roles = list(other.roles_held)
    keep_calls = set(db.session.scalars(sa.select(Nomination.call_id).where(Nomination.expert_id == keep.id)))
    for n in db.session.scalars(sa.select(Nomination).where(Nomination.expert_id == other.id).order_by(Nomination.id)):
        (plan.nominations_kept_apart if n.call_id in keep_calls else plan.nominations_moved).append(n)
    keep_calls = set(db.session.scalars(sa.select(Invitation.call_id).where(Invitation.expert_id == keep.id)))
    for i in db.session.scalars(sa.select(Invitation).where(Invitation.expert_id == other.id).order_by(Invitation.id)):
        (plan.invitations_kept_apart if i.call_id in keep_calls else plan.invitations_moved).append(i)
    if other.cv_file:
        plan.cv = "drop" if keep.cv_file else "move"
    if other.user_id:
        plan.user = "unlink" if keep.user_id else "move"
    plan.consent = not keep.has_consent and other.has_consent
    plan.notes = bool(other.notes.strip())
    return plan


def merge_experts(keep: Expert, other: Expert, *, actor) -> MergePlan:
    """Merge ``other`` into ``keep``: empty fields filled in, tags, past roles, nominations and invitations
    moved where the kept record has none for the same call; ``other`` stays as a tombstone pointing to
    ``keep`` (``merged_into_id``)."""
    from focalpoint.nominations.models import Lead

    plan = plan_merge(keep, other)
    # Unique columns first: free them on the other record before the kept one takes them.
    moved_orcid = next((new for name, _old, new in plan.fields if name == "orcid"), None)
    user_id = other.user_id if plan.user == "move" else None
    if moved_orcid or plan.user:
        other.orcid = None if moved_orcid else other.orcid
        other.user_id = None
        other.user = None
        db.session.flush()
    for name, _old, new in plan.fields:
        setattr(keep, name, new)
    if user_id:
        keep.user_id = user_id
    keep.terms = sorted(list(keep.terms) + plan.tags_added, key=lambda t: (t.vocabulary, t.position))
    keep.deliverables = list(keep.deliverables) + plan.deliverables_added
    keep.keywords = join_list(split_list(keep.keywords) + plan.keywords_added)
    keep.languages = ";".join(split_list(keep.languages) + plan.languages_added)
    for past in plan.past_roles:
        past.expert = keep
    for row in plan.nominations_moved + plan.invitations_moved:
        row.expert = keep
    db.session.execute(sa.update(Lead).where(Lead.expert_id == other.id).values(expert_id=keep.id))
    db.session.execute(sa.update(Lead).where(Lead.suggested_by_id == other.id).values(suggested_by_id=keep.id))
    if plan.cv == "move":
        for name in ("cv_file", "cv_filename", "cv_content_type", "cv_size", "cv_uploaded_at"):
            setattr(keep, name, getattr(other, name))
        other.cv_file = other.cv_filename = other.cv_content_type = None
        other.cv_size = None
        other.cv_uploaded_at = None
    elif plan.cv == "drop":
        _clear_cv(other)
    if plan.consent:
        keep.consent_contact_at = other.consent_contact_at
        keep.consent_processing_at = other.consent_processing_at
        keep.consent_text_version = other.consent_text_version
    if plan.notes:
        keep.notes = (keep.notes.rstrip() + "\n\n" if keep.notes.strip() else "") + \
            _("From record #%(id)s:", id=other.id) + "\n" + other.notes.strip()
    other.terms = []
    other.deliverables = []
    other.merged_into_id = keep.id
    db.session.flush()
    summary = {"fields": [name for name, _o, _n in plan.fields], "tags": len(plan.tags_added),
               "deliverables": len(plan.deliverables_added), "past_roles": len(plan.past_roles),
               "nominations_moved": len(plan.nominations_moved),
               "nominations_kept_apart": len(plan.nominations_kept_apart),
               "invitations_moved": len(plan.invitations_moved),
               "invitations_kept_apart": len(plan.invitations_kept_apart), "cv": plan.cv, "user": plan.user}
    log_action(keep, "expert.merged", actor=actor, data={"merged_id": other.id, **summary})
    log_action(other, "expert.merged_into", actor=actor, data={"into_id": keep.id})
    return plan


# --- listing: filters shared by the page, the exports and the command line ----------------------------------
FILTER_KEYS = ("region", "gender", "career_stage", "discipline", "role", "deliverable", "gbf_target", "ecosystem",
               "language", "availability", "consent", "status", "cv")
#: Filter name → vocabulary of the tag it filters on.
TERM_FILTERS = {"discipline": "discipline", "role": "expert_role", "gbf_target": "gbf_target",
                "ecosystem": "ecosystem"}


def read_filters(args) -> dict[str, str]:
    return {key: (args.get(key) or "").strip()[:100] for key in FILTER_KEYS}


def _escape_like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def filter_experts(stmt, filters: dict[str, str], q: str = ""):
    """``stmt`` (a select of Expert) narrowed by the search text and every filter given (AND)."""
    if q:
        like = _escape_like(q)
        full = Expert.first_name + " " + Expert.last_name
        reverse = Expert.last_name + " " + Expert.first_name
        stmt = stmt.where(sa.or_(*(col.ilike(like, escape="\\") for col in (
            full, reverse, Expert.email, Expert.affiliation, Expert.keywords, Expert.orcid))))
    if filters.get("region"):
        stmt = stmt.where(Expert.region == filters["region"])
    for key, enum in (("gender", Gender), ("career_stage", CareerStage), ("availability", Availability)):
        if filters.get(key) in {m.value for m in enum}:
            stmt = stmt.where(getattr(Expert, key) == enum(filters[key]))
    for key, vocabulary in TERM_FILTERS.items():
        if filters.get(key):
            term_ids = sa.select(ReferenceTerm.id).where(ReferenceTerm.vocabulary == vocabulary,
                                                         ReferenceTerm.code == filters[key])
            stmt = stmt.where(sa.exists().where(expert_terms.c.expert_id == Expert.id,
                                                expert_terms.c.term_id.in_(term_ids)))
    if filters.get("deliverable"):
        ids = sa.select(Deliverable.id).where(Deliverable.code == filters["deliverable"])
        stmt = stmt.where(sa.exists().where(expert_deliverables.c.expert_id == Expert.id,
                                            expert_deliverables.c.deliverable_id.in_(ids)))
    if filters.get("language"):
        padded = ";" + Expert.languages + ";"
        stmt = stmt.where(padded.like(_escape_like(";" + filters["language"].lower() + ";"), escape="\\"))
    if filters.get("consent") == "yes":
        stmt = stmt.where(Expert.consent_contact_at.isnot(None), Expert.consent_processing_at.isnot(None))
    elif filters.get("consent") == "no":
        stmt = stmt.where(sa.or_(Expert.consent_contact_at.is_(None), Expert.consent_processing_at.is_(None)))
    if filters.get("cv") == "yes":
        stmt = stmt.where(Expert.cv_file.isnot(None))
    elif filters.get("cv") == "no":
        stmt = stmt.where(Expert.cv_file.is_(None))
    status = filters.get("status")
    if status in {s.value for s in ExpertStatus}:
        stmt = stmt.where(Expert.status == ExpertStatus(status), Expert.merged_into_id.is_(None))
    elif status == "merged":
        stmt = stmt.where(Expert.merged_into_id.isnot(None))
    elif status != "all":
        stmt = stmt.where(_live())
    return stmt


SORTS = {
    "name": sa.func.lower(Expert.last_name + " " + Expert.first_name),
    "email": Expert.email, "affiliation": sa.func.lower(Expert.affiliation), "region": Expert.region,
    "gender": Expert.gender, "career_stage": Expert.career_stage, "status": Expert.status,
    "updated": Expert.updated_at, "created": Expert.created_at,
}


# --- spreadsheets out ------------------------------------------------------------------------------------
#: The import columns first (an export can be imported again), then what only an export carries.
IMPORT_COLUMNS = ("email", "first_name", "last_name", "gender", "affiliation", "region", "disciplines", "expertise",
                  "deliverables", "roles_wanted", "languages", "orcid", "career_stage")
EXPORT_COLUMNS = ("id",) + IMPORT_COLUMNS + ("availability", "preferred_language", "consent_contact_at",
                                             "consent_processing_at", "consent_text_version", "has_cv",
                                             "past_roles", "status", "created_at", "updated_at")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_row(expert: Expert) -> list:
    codes = lambda vocabulary: join_list(t.code for t in expert.terms_of(vocabulary))  # noqa: E731
    expertise = split_list(expert.keywords) + [t.code for t in expert.terms_of("gbf_target")] + \
        [t.code for t in expert.terms_of("ecosystem")]
    past = join_list(
        f"{r.role} {r.deliverable.code if r.deliverable else r.deliverable_text}"
        + (f" {r.year_from or ''}-{r.year_to or ''}" if r.year_from or r.year_to else "") for r in expert.roles_held)
    return [expert.id, expert.email or "", expert.first_name, expert.last_name,
            expert.gender.value if expert.gender else "", expert.affiliation, expert.region or "",
            codes("discipline"), join_list(expertise), join_list(d.code for d in sorted_deliverables(expert)),
            codes("expert_role"), join_list(split_list(expert.languages)), expert.orcid or "",
            expert.career_stage.value if expert.career_stage else "", expert.availability.value,
            expert.preferred_language, _iso(expert.consent_contact_at) or "", _iso(expert.consent_processing_at) or "",
            expert.consent_text_version or "", "yes" if expert.cv_file else "no", past,
            "merged" if expert.merged_into_id else expert.status.value, _iso(expert.created_at) or "",
            _iso(expert.updated_at) or ""]


def to_csv(rows: Iterable[list], header=EXPORT_COLUMNS) -> bytes:
    """UTF-8 with a byte order mark (so Excel reads the accents); text that a spreadsheet would take
    for a formula is prefixed with a quote."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v for v in row])
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(rows: Iterable[list], header=EXPORT_COLUMNS, title: str = "Experts") -> bytes:
    """An XLSX workbook; every text cell is stored as text, so "=…" is never evaluated as a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    bold = Font(bold=True)
    head = []
    for name in header:
        cell = WriteOnlyCell(ws, value=name)
        cell.font = bold
        head.append(cell)
    ws.append(head)
    for row in rows:
        cells = []
        for value in row:
            value = _xlsx_safe(value)
            cell = WriteOnlyCell(ws, value=value)
            if isinstance(value, str) and value.startswith(_FORMULA_START):
                cell.data_type = "s"
                cell.quotePrefix = True
            cells.append(cell)
        ws.append(cells)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx_safe(value):
    return _XLSX_ILLEGAL.sub("", value) if isinstance(value, str) else value


def expert_as_dict(expert: Expert) -> dict:
    """The fields of ``focalpoint experts list --json``."""
    return {"id": expert.id, "name": f"{expert.first_name} {expert.last_name}".strip(), "email": expert.email,
            "region": expert.region, "gender": expert.gender.value if expert.gender else None,
            "career_stage": expert.career_stage.value if expert.career_stage else None,
            "disciplines": [t.code for t in expert.terms_of("discipline")],
            "roles_wanted": [t.code for t in expert.terms_of("expert_role")],
            "deliverables": [d.code for d in sorted_deliverables(expert)],
            "status": "merged" if expert.merged_into_id else expert.status.value}


# --- spreadsheets in -------------------------------------------------------------------------------------
class ImportFileError(ExpertError):
    """The file as a whole cannot be read (nothing is imported)."""


def read_import_file(data: bytes, filename: str = "") -> tuple[list[tuple[int, dict]], list[str]]:
    """Rows of a CSV or XLSX file as ``(line number, {column: text})`` and warnings about the columns.

    The type is read from the content (a ZIP is an XLSX workbook), else from the name. The header is
    the first non-empty row; names are matched case-insensitively, spaces taken as underscores.
    """
    if data.startswith(b"PK\x03\x04") or filename.lower().endswith(".xlsx"):
        raw_rows = _xlsx_rows(data)
    else:
        raw_rows = _csv_rows(data)
    header, start = None, 0
    for index, (line, cells) in enumerate(raw_rows):
        if any(c.strip() for c in cells):
            header, start = [re.sub(r"\s+", "_", c.strip().lower()).lstrip("\ufeff") for c in cells], index + 1
            break
    if header is None:
        raise ImportFileError(_("The file is empty."))
    if "email" not in header:
        raise ImportFileError(_("The file has no 'email' column (expected columns: %(c)s).",
                                c=", ".join(IMPORT_COLUMNS)))
    warnings = [_("Column '%(c)s' is not one of ours: ignored.", c=name) for name in header
                if name and name not in IMPORT_COLUMNS]
    rows = []
    for line, cells in raw_rows[start:]:
        if not any(c.strip() for c in cells):
            continue
        row = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header)
               if name in IMPORT_COLUMNS}
        rows.append((line, row))
    return rows, warnings


def _csv_rows(data: bytes) -> list[tuple[int, list[str]]]:
    if b"\x00" in data[:4096]:
        raise ImportFileError(_("The file is neither CSV nor XLSX."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # Excel's "CSV" on Windows
    first = text.split("\n", 1)[0]
    # Excel in a French or Dutch locale separates with ";"; the header tells which it is.
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [(reader.line_num, cells) for cells in reader]
    except csv.Error as exc:
        raise ImportFileError(_("The CSV file cannot be read: %(e)s", e=str(exc))) from None


def _xlsx_rows(data: bytes) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    check_zip(data, required=("[Content_Types].xml",), max_total=300 * 1024 * 1024, max_ratio=200,
              max_entries=5000)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise ImportFileError(_("The XLSX file cannot be read (%(e)s).", e=type(exc).__name__)) from None
    try:
        ws = wb.worksheets[0]
        return [(index, [_cell_text(v) for v in values])
                for index, values in enumerate(ws.iter_rows(values_only=True), 1)]
    finally:
        wb.close()


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


class _Vocabulary:
    """Lookup of a value by code or label, case-insensitive (loaded once per import)."""

    def __init__(self, pairs: Iterable[tuple[object, Iterable[str]]]):
        self.index: dict[str, object] = {}
        for target, keys in pairs:
            for key in keys:
                if key:
                    self.index.setdefault(str(key).strip().casefold(), target)

    def get(self, value: str):
        return self.index.get(value.strip().casefold())


def _enum_vocabulary(labels: dict) -> _Vocabulary:
    with force_locale("en"):
        return _Vocabulary((member, (member.value, member.value.replace("_", "-"), member.value.replace("_", " "),
                                     str(label))) for member, label in labels.items())


@dataclass
class RowResult:
    line: int
    #: created, updated or skipped
    outcome: str
    reason: str = ""
    expert_id: int | None = None
    name: str = ""
    email: str = ""

    def as_dict(self) -> dict:
        return {"line": self.line, "outcome": self.outcome, "reason": self.reason, "expert_id": self.expert_id,
                "name": self.name, "email": self.email}

    def line_text(self) -> str:
        who = f" #{self.expert_id}" if self.expert_id else ""
        text = f"line {self.line}: {self.outcome}{who}"
        if self.name or self.email:
            text += f" ({self.name or self.email})"
        return text + (f": {self.reason}" if self.reason else "")


@dataclass
class ImportReport:
    dry_run: bool
    rows: list[RowResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = {"created": 0, "updated": 0, "skipped": 0}
        for row in self.rows:
            counts[row.outcome] += 1
        return counts

    @property
    def imported(self) -> int:
        counts = self.counts
        return counts["created"] + counts["updated"]

    def as_dict(self) -> dict:
        return {"dry_run": self.dry_run, "counts": self.counts, "warnings": self.warnings,
                "rows": [r.as_dict() for r in self.rows]}


@dataclass
class _Parsed:
    line: int
    values: dict
    term_ids: list[int]
    deliverable_ids: list[int]
    keywords: list[str]
    languages: list[str]


class _Importer:
    """One import: vocabularies and the registry's keys loaded once, rows checked in Python, new
    records written with bulk inserts."""

    CHUNK = 1000

    def __init__(self, actor):
        self.actor = actor
        self.regions = _Vocabulary((code, (code, label)) for code, label in country_regions().items())
        self.genders = _enum_vocabulary(GENDER_LABELS)
        self.stages = _enum_vocabulary(CAREER_STAGE_LABELS)
        with force_locale("en"):
            self.languages = _Vocabulary((code, (code, str(label))) for code, label in LANGUAGE_LABELS.items())
        terms = db.session.execute(sa.select(ReferenceTerm.id, ReferenceTerm.vocabulary, ReferenceTerm.code,
                                             ReferenceTerm.label)
                                   .where(ReferenceTerm.vocabulary.in_(list(TAG_VOCABULARIES)))).all()
        self.terms = {v: _Vocabulary((t.id, (t.code, t.label)) for t in terms if t.vocabulary == v)
                      for v in TAG_VOCABULARIES}
        self.tags = _Vocabulary((t.id, (t.code, t.label)) for t in terms
                                if t.vocabulary in ("gbf_target", "ecosystem"))
        self.deliverables = _Vocabulary((d.id, (d.code, d.short_name, d.title))
                                        for d in db.session.execute(sa.select(Deliverable.id, Deliverable.code,
                                                                              Deliverable.short_name,
                                                                              Deliverable.title)).all())
        # The registry's keys, in one query.
        rows = db.session.execute(sa.select(
            Expert.id, Expert.email, Expert.orcid, Expert.first_name, Expert.last_name, Expert.merged_into_id,
            Expert.status)).all()
        merged = {r.id: r.merged_into_id for r in rows}

        def final(expert_id):
            seen = set()
            while merged.get(expert_id) and expert_id not in seen:
                seen.add(expert_id)
                expert_id = merged[expert_id]
            return expert_id

        self.by_email = {r.email: final(r.id) for r in rows if r.email}
        self.by_orcid = {r.orcid: final(r.id) for r in rows if r.orcid}
        self.by_name: dict[tuple, tuple[int, str]] = {}
        for r in rows:
            if r.merged_into_id is None and r.status != ExpertStatus.ERASED:
                key = name_key(r.first_name, r.last_name)
                if key is not None:
                    self.by_name.setdefault(key, (r.id, f"{r.first_name} {r.last_name}".strip()))
        self.lines_by_email: dict[str, int] = {}
        self.lines_by_orcid: dict[str, int] = {}
        self.lines_by_name: dict[tuple, tuple[int, str]] = {}

    # -- one row -----------------------------------------------------------------------------------
    def parse(self, line: int, row: dict) -> tuple[_Parsed | None, list[str]]:
        errors: list[str] = []
        values: dict = {}
        try:
            values["email"] = normalise_email(row.get("email"))
        except ExpertError:
            errors.append(_("e-mail missing") if not (row.get("email") or "").strip()
                          else _("invalid e-mail '%(v)s'", v=row.get("email", "")[:100]))
        for name in ("first_name", "last_name", "affiliation"):
            value = " ".join((row.get(name) or "").split())
            if len(value) > FIELD_LIMITS[name]:
                errors.append(_("%(c)s longer than %(n)d characters", c=name, n=FIELD_LIMITS[name]))
            values[name] = value
        if not values["first_name"] and not values["last_name"]:
            errors.append(_("name missing"))
        try:
            values["orcid"] = normalise_orcid(row.get("orcid"))
        except ExpertError:
            errors.append(_("invalid ORCID '%(v)s'", v=(row.get("orcid") or "")[:40]))
        for name, vocabulary, message in (("region", self.regions, _l("unknown region '%(v)s'")),
                                          ("gender", self.genders, _l("unknown gender '%(v)s'")),
                                          ("career_stage", self.stages, _l("unknown career stage '%(v)s'"))):
            raw = (row.get(name) or "").strip()
            values[name] = None
            if raw:
                found = vocabulary.get(raw)
                if found is None:
                    errors.append(str(message) % {"v": raw[:60]})
                values[name] = found
        term_ids: list[int] = []
        for column, vocabulary, message in (("disciplines", "discipline", _l("unknown discipline '%(v)s'")),
                                            ("roles_wanted", "expert_role", _l("unknown role '%(v)s'"))):
            for item in split_list(row.get(column)):
                found = self.terms[vocabulary].get(item)
                if found is None:
                    errors.append(str(message) % {"v": item[:60]})
                else:
                    term_ids.append(found)
        deliverable_ids = []
        for item in split_list(row.get("deliverables")):
            found = self.deliverables.get(item)
            if found is None:
                errors.append(_("unknown deliverable '%(v)s'", v=item[:60]))
            else:
                deliverable_ids.append(found)
        languages = []
        for item in split_list(row.get("languages")):
            found = self.languages.get(item)
            if found is None:
                errors.append(_("unknown language '%(v)s'", v=item[:60]))
            else:
                languages.append(found)
        keywords = []
        for item in split_list(row.get("expertise")):
            found = self.tags.get(item)
            if found is None:
                keywords.append(item[:200])
            else:
                term_ids.append(found)
        if errors:
            return None, errors
        return _Parsed(line, values, list(dict.fromkeys(term_ids)), list(dict.fromkeys(deliverable_ids)),
                       _add_unique([], keywords), list(dict.fromkeys(languages))), []

    def match(self, parsed: _Parsed) -> tuple[str, int | None, str]:
        """("create" | "update" | "skip", existing id, reason)."""
        email, orcid = parsed.values["email"], parsed.values["orcid"]
        if email in self.lines_by_email:
            return "skip", None, _("duplicate of line %(n)d by e-mail", n=self.lines_by_email[email])
        if orcid and orcid in self.lines_by_orcid:
            return "skip", None, _("duplicate of line %(n)d by ORCID", n=self.lines_by_orcid[orcid])
        by_email, by_orcid = self.by_email.get(email), self.by_orcid.get(orcid) if orcid else None
        if by_email is not None:
            if by_orcid is not None and by_orcid != by_email:
                return "skip", by_email, _("e-mail of #%(a)d but ORCID of #%(b)d", a=by_email, b=by_orcid)
            return "update", by_email, ""
        if by_orcid is not None:
            return "skip", by_orcid, _("duplicate of #%(id)d by ORCID", id=by_orcid)
        key = name_key(parsed.values["first_name"], parsed.values["last_name"])
        if key in self.by_name:
            other_id, other_name = self.by_name[key]
            return "skip", other_id, _("similar name to #%(id)d (%(name)s)", id=other_id, name=other_name)
        if key in self.lines_by_name:
            other_line, other_name = self.lines_by_name[key]
            return "skip", None, _("similar name to line %(n)d (%(name)s)", n=other_line, name=other_name)
        return "create", None, ""

    def remember(self, parsed: _Parsed) -> None:
        self.lines_by_email[parsed.values["email"]] = parsed.line
        if parsed.values["orcid"]:
            self.lines_by_orcid[parsed.values["orcid"]] = parsed.line
        key = name_key(parsed.values["first_name"], parsed.values["last_name"])
        if key is not None:
            name = f"{parsed.values['first_name']} {parsed.values['last_name']}".strip()
            self.lines_by_name.setdefault(key, (parsed.line, name))

    # -- writing -------------------------------------------------------------------------------------
    def insert(self, batch: list[tuple[_Parsed, RowResult]]) -> None:
        """Insert new records in chunks; a chunk that hits a constraint (a record saved meanwhile by
        someone else) is retried row by row, so only the conflicting rows are skipped."""
        for start in range(0, len(batch), self.CHUNK):
            chunk = batch[start:start + self.CHUNK]
            try:
                with db.session.begin_nested():
                    ids = self._insert_rows([p for p, _r in chunk])
            except IntegrityError:
                ids = []
                for parsed, result in chunk:
                    try:
                        with db.session.begin_nested():
                            ids.extend(self._insert_rows([parsed]))
                    except IntegrityError:
                        ids.append(None)
            for (parsed, result), expert_id in zip(chunk, ids):
                if expert_id is None:
                    result.outcome, result.reason = "skipped", _("conflicts with a record saved meanwhile")
                else:
                    result.expert_id = expert_id

    def _insert_rows(self, rows: list[_Parsed]) -> list[int]:
        now = utcnow()
        params = [dict(p.values, keywords=join_list(p.keywords), languages=";".join(p.languages),
                       status=ExpertStatus.ACTIVE, availability=Availability.AVAILABLE, preferred_language="en",
                       availability_note="", notes="", version=1, created_at=now, updated_at=now) for p in rows]
        # One executemany, then the new ids by their (unique) e-mail addresses: RETURNING with the rows'
        # order is emulated row by row on SQLite, which is 20 times slower.
        db.session.execute(sa.insert(Expert.__table__), params)
        by_email = dict(db.session.execute(sa.select(Expert.email, Expert.id).where(
            Expert.email.in_([p["email"] for p in params]))).all())
        ids = [by_email[p["email"]] for p in params]
        terms = [{"expert_id": i, "term_id": t} for i, p in zip(ids, rows) for t in p.term_ids]
        if terms:
            db.session.execute(expert_terms.insert(), terms)
        deliverables = [{"expert_id": i, "deliverable_id": d} for i, p in zip(ids, rows) for d in p.deliverable_ids]
        if deliverables:
            db.session.execute(expert_deliverables.insert(), deliverables)
        db.session.execute(sa.insert(AuditEntry), [
            {"at": now, "actor_id": getattr(self.actor, "id", None), "object_type": Expert.__tablename__,
             "object_id": i, "action": "expert.created", "data": {"source": "import", "line": p.line}}
            for i, p in zip(ids, rows)])
        return ids

    def update(self, batch: list[tuple[_Parsed, RowResult]]) -> None:
        """Fill in what existing records lack (empty fields, new tags, keywords, languages); never
        overwrite a value someone set. A row that brings nothing new is skipped."""
        ids = list({r.expert_id for _p, r in batch})
        current, terms, deliverables = {}, {}, {}
        for start in range(0, len(ids), self.CHUNK):
            part = ids[start:start + self.CHUNK]
            for row in db.session.execute(sa.select(Expert.__table__).where(Expert.id.in_(part))).mappings():
                current[row["id"]] = dict(row)
            for expert_id, term_id in db.session.execute(sa.select(expert_terms.c.expert_id, expert_terms.c.term_id)
                                                         .where(expert_terms.c.expert_id.in_(part))):
                terms.setdefault(expert_id, set()).add(term_id)
            for expert_id, d_id in db.session.execute(
                    sa.select(expert_deliverables.c.expert_id, expert_deliverables.c.deliverable_id)
                    .where(expert_deliverables.c.expert_id.in_(part))):
                deliverables.setdefault(expert_id, set()).add(d_id)
        now = utcnow()
        table = Expert.__table__
        updates, new_terms, new_deliverables, audit = [], [], [], []
        for parsed, result in batch:
            row = current[result.expert_id]
            changes = []
            for name in ("first_name", "last_name", "affiliation", "region", "gender", "career_stage", "orcid"):
                value = parsed.values[name]
                if value and not row[name]:
                    if name == "orcid" and self.by_orcid.get(value) not in (None, result.expert_id):
                        continue
                    row[name] = value
                    changes.append(name)
                    if name == "orcid":
                        self.by_orcid[value] = result.expert_id
            have_terms = terms.setdefault(result.expert_id, set())
            added_terms = [t for t in parsed.term_ids if t not in have_terms]
            have_terms.update(added_terms)
            new_terms += [{"expert_id": result.expert_id, "term_id": t} for t in added_terms]
            have_deliverables = deliverables.setdefault(result.expert_id, set())
            added_del = [d for d in parsed.deliverable_ids if d not in have_deliverables]
            have_deliverables.update(added_del)
            new_deliverables += [{"expert_id": result.expert_id, "deliverable_id": d} for d in added_del]
            keywords = split_list(row["keywords"])
            merged_keywords = _add_unique(keywords, parsed.keywords)
            languages = split_list(row["languages"])
            merged_languages = _add_unique(languages, parsed.languages)
            if len(merged_keywords) > len(keywords):
                changes.append("keywords")
                row["keywords"] = join_list(merged_keywords)
            if len(merged_languages) > len(languages):
                changes.append("languages")
                row["languages"] = ";".join(merged_languages)
            if added_terms:
                changes.append("tags")
            if added_del:
                changes.append("deliverables")
            if not changes:
                result.outcome, result.reason = "skipped", _("duplicate of #%(id)d by e-mail, nothing new",
                                                             id=result.expert_id)
                continue
            result.reason = _("filled in: %(f)s", f=", ".join(changes))
            row["version"] += 1
            updates.append({"b_id": row["id"], **{f"b_{k}": row[k] for k in (
                "first_name", "last_name", "affiliation", "region", "gender", "career_stage", "orcid", "keywords",
                "languages", "version")}, "b_updated_at": now})
            audit.append({"at": now, "actor_id": getattr(self.actor, "id", None), "object_type": Expert.__tablename__,
                          "object_id": row["id"], "action": "expert.updated",
                          "data": {"fields": changes, "source": "import", "line": parsed.line}})
        if updates:
            # Core executemany (one statement); the version is bumped so an edit form opened earlier is refused.
            stmt = table.update().where(table.c.id == sa.bindparam("b_id")).values(
                **{k: sa.bindparam(f"b_{k}") for k in ("first_name", "last_name", "affiliation", "region", "gender",
                                                       "career_stage", "orcid", "keywords", "languages", "version",
                                                       "updated_at")})
            db.session.execute(stmt, updates)
        if new_terms:
            db.session.execute(expert_terms.insert(), new_terms)
        if new_deliverables:
            db.session.execute(expert_deliverables.insert(), new_deliverables)
        if audit:
            db.session.execute(sa.insert(AuditEntry), audit)


def import_experts(rows: Iterable[tuple[int, dict]] | Iterable[dict], *, dry_run: bool, actor=None) -> ImportReport:
    """Import rows of the import format (``(line, row)`` pairs from ``read_import_file``, or plain dicts).

    Each row is created, updated (only empty fields and new tags are filled in) or skipped with the
    reason (invalid values, duplicates by e-mail, ORCID or similar name, in the registry or earlier in
    the file). A bad row never stops the others. A dry run does the same work inside a savepoint rolled
    back at the end, so it writes nothing and reports what would happen. Flushes; the caller commits.
    """
    report = ImportReport(dry_run=dry_run)
    savepoint = db.session.begin_nested()
    try:
        importer = _Importer(actor)
        creates, updates = [], []
        for index, item in enumerate(rows):
            line, row = item if isinstance(item, tuple) else (index + 2, item)
            name = " ".join(f"{row.get('first_name') or ''} {row.get('last_name') or ''}".split())[:200]
            result = RowResult(line=line, outcome="skipped", name=name, email=(row.get("email") or "").strip()[:254])
            report.rows.append(result)
            parsed, errors = importer.parse(line, row)
            if parsed is None:
                result.reason = "; ".join(errors)
                continue
            result.email = parsed.values["email"]
            action, expert_id, reason = importer.match(parsed)
            importer.remember(parsed)
            result.expert_id, result.reason = expert_id, reason
            if action == "create":
                result.outcome = "created"
                creates.append((parsed, result))
            elif action == "update":
                result.outcome = "updated"
                updates.append((parsed, result))
        if updates:
            importer.update(updates)
        if creates:
            importer.insert(creates)
        if not dry_run:
            log_action(None, "experts.imported", actor=actor, data=report.counts)
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run:
        savepoint.rollback()
        for result in report.rows:
            if result.outcome == "created":
                result.expert_id = None
    else:
        savepoint.commit()
    return report
