"""Statistics for the steering committee (issue 8): aggregates only, never a child's identity."""
