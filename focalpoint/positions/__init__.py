"""Plenary preparation: agendas, position notes, review and clearance by administrations (DESIGN.md 2.4)."""
