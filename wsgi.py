"""WSGI entry point for gunicorn: ``gunicorn -w 4 'wsgi:app'`` (the scheduler runs apart:
``focalpoint scheduler``)."""
from focalpoint import create_app

app = create_app()
