"""Scripts that measure the harness (CI prints their figures; see figures.py)."""
