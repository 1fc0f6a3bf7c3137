"""Everything due across the workflows, the personal calendar feed and the digests (issue 6)."""
