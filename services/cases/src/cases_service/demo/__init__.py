"""The synthetic demo dataset (`python -m cases_service.demo`), loaded through the service's own domain code."""
