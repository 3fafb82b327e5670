"""Synthetic data at national scale for measurements: `python -m cases_service.scale N`."""
