"""Stimulus-stream generators (a leaf: imports numpy only)."""
