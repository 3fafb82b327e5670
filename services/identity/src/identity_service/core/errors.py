"""The identity service's own domain errors (problem+json with stable codes)."""

from __future__ import annotations

from typing import Any

from himaya.errors import DomainError, Forbidden, InvalidInput, Unauthorized


class PasswordPolicyViolation(InvalidInput):
    """The password does not meet the password policy."""

    code = "password_policy"
    title = "Password policy not met"


class GrantNotAllowed(Forbidden):
    """The caller tried to give a role, scope, organisation or territory they do not hold."""

    code = "grant_not_allowed"
    title = "Grant not allowed"


class TokenRequestRefused(Unauthorized):
    """Base of the token endpoint's refusals: the session dependency commits their bookkeeping."""

    error = "invalid_grant"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("extra", {"error": self.error})
        super().__init__(detail, **kwargs)


class InvalidGrant(TokenRequestRefused):
    """Wrong username or password, or a refresh token that is unknown, spent, revoked or expired (RFC 6749)."""

    code = "invalid_grant"
    title = "Invalid grant"


class InvalidClient(TokenRequestRefused):
    """Client authentication failed (RFC 6749 `invalid_client`)."""

    code = "invalid_client"
    title = "Invalid client"
    error = "invalid_client"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Basic realm="himaya"'})
        super().__init__(detail, **kwargs)


class UnsupportedGrantType(DomainError):
    """The grant type is not one this server supports (RFC 6749 `unsupported_grant_type`)."""

    status = 400
    code = "unsupported_grant_type"
    title = "Unsupported grant type"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("extra", {"error": "unsupported_grant_type"})
        super().__init__(detail, **kwargs)


class InvalidTokenRequest(DomainError):
    """A parameter the grant needs is missing or malformed (RFC 6749 `invalid_request`)."""

    status = 400
    code = "invalid_request"
    title = "Invalid token request"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("extra", {"error": "invalid_request"})
        super().__init__(detail, **kwargs)
