"""Tests of the `tracklight` command line (main venv only)."""
