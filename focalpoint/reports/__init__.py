"""National reporting: involvement, balance, consultations and positions, with charts (issue 6)."""
