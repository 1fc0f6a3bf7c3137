"""The consultations blueprint: staff views (views.py) and the experts' review workspace (review_views.py)."""
from flask import Blueprint

bp = Blueprint("consultations", __name__)
