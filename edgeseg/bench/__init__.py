"""Benchmarking: timing runners and reporting (the full ``edgeseg bench`` lives here)."""
