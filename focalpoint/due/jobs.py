"""Scheduled work of the due view: the daily and weekly digests.

Safe to run often, twice, or in two processes at once: each digest has its own outbox key
("digest:<user id>:<period>"), so a second run finds it queued and sends nothing more (digests.py).
"""
from __future__ import annotations

import datetime as dt

from focalpoint.due.digests import send_digests


def send_digests_job(now: dt.datetime | None = None) -> dict[str, int]:
    """Queue the digests whose time has come; returns {"queued", "empty", "already", "waiting"}."""
    return send_digests(now).counts
