"""Himaya's development tools, kept out of the runtime library and of the production image.

- `himaya_dev.devstack`: the whole system on one machine (`make run`, `make migrate`, `make demo`…);
- `himaya_dev.embedded_pg`: the embedded PostgreSQL those use when no DATABASE_URL is given;
- `himaya_dev.testing`: the pytest plugin and the contract tests every service passes;
- `himaya_dev.private_imports`: the check that no module imports another package's private names.

Nothing under shared/ or services/ imports this package (`make lint` enforces it).
"""
