"""Flow definitions and per-flow tracking."""
