"""Which service owns which path: the gateway's routing table."""

from __future__ import annotations

ROUTES: tuple[tuple[str, str], ...] = (
    ("/v1/auth", "identity"),
    ("/v1/me", "identity"),
    ("/v1/organizations", "identity"),
    ("/v1/users", "identity"),
    ("/v1/clients", "identity"),
    ("/v1/field-teams", "identity"),
    ("/v1/territories", "identity"),
    ("/v1/roles", "identity"),
    ("/v1/signing-keys", "identity"),
    ("/.well-known", "identity"),
    ("/v1/outings", "cases"),
    ("/v1/intakes", "cases"),
    ("/v1/cases", "cases"),
    ("/v1/children", "cases"),
    ("/v1/child-merge-requests", "cases"),
    ("/v1/duplicate-reviews", "cases"),
    ("/v1/institutions", "cases"),
    ("/v1/stats", "cases"),
    ("/v1/audit", "cases"),
    ("/v1/referrals", "referrals"),
    ("/v1/webhook-subscriptions", "referrals"),
    ("/v1/dead-letters", "referrals"),
)

UPSTREAMS = ("identity", "cases", "referrals")


def route(path: str) -> str | None:
    """The service owning `path`, matching whole path segments (`/v1/cases` but not `/v1/casesx`)."""
    for prefix, service in ROUTES:
        if path == prefix or path.startswith(prefix + "/"):
            return service
    return None
