"""Analysis of simulation results: metrics (continual learning, ...) and diagnostics."""
