"""``focalpoint consultations list|export|import``."""
from __future__ import annotations

import click


@click.group("consultations", help="National consultations on IPBES drafts.")
def consultations_group():
    pass
