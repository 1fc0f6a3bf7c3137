"""The experts' review workspace: a consultation's documents, their own comments, the template upload."""
from __future__ import annotations

from focalpoint.consultations.blueprint import bp  # noqa: F401
