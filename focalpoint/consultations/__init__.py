"""National consultations on IPBES drafts (DESIGN.md 2.3)."""
