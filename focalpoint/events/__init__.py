"""Information sessions and uptake events (DESIGN.md 2.3)."""
