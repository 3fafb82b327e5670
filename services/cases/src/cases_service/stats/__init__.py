"""Statistics for the steering committee (docs/statistics.md): aggregates only, never a child's identity."""
