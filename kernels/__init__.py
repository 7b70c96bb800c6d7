"""Compiled simulation kernels (a leaf: imports numpy / numba / cupy only)."""
