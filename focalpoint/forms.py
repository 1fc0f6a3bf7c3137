"""Forms shared by every domain."""
from flask_wtf import FlaskForm


class ConfirmForm(FlaskForm):
    """A form with nothing but its CSRF token, behind every POST button."""
