"""RFC 9457 problem+json errors: domain errors, validation, routing and unhandled failures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from himaya.i18n import negotiate_language, translate_title

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://himaya.ma/problems/"

log = structlog.get_logger(__name__)


class ProblemFieldError(BaseModel):
    """One invalid field of a request."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document, with a stable snake_case `code`."""

    type: str
    title: str
    status: int
    detail: str | None = None
    code: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[ProblemFieldError] | None = Field(default=None)


class DomainError(Exception):
    """Base of every error raised by domain code; carries its HTTP status and stable code."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None,
                 extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class NotFound(DomainError):
    """The object does not exist, or the caller may not see it (existence never leaks)."""

    status = 404
    code = "not_found"
    title = "Not found"


class Unauthorized(DomainError):
    """No valid credentials."""

    status = 401
    code = "unauthorized"
    title = "Unauthorized"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        super().__init__(detail, **kwargs)


class Forbidden(DomainError):
    """Authenticated, but the operation is outside the caller's scopes."""

    status = 403
    code = "forbidden"
    title = "Forbidden"


class Conflict(DomainError):
    """The request conflicts with the current state of the object."""

    status = 409
    code = "conflict"
    title = "Conflict"


class TransitionNotAllowed(Conflict):
    """The state machine or the caller's role forbids this transition."""

    code = "transition_not_allowed"
    title = "Transition not allowed"


class InvalidInput(DomainError):
    """The payload is well formed but breaks a domain rule."""

    status = 422
    code = "invalid_input"
    title = "Invalid input"


class PreconditionRequired(DomainError):
    """An update was sent without If-Match."""

    status = 428
    code = "precondition_required"
    title = "Precondition required"


class PreconditionFailed(DomainError):
    """If-Match did not match the current ETag."""

    status = 412
    code = "precondition_failed"
    title = "Precondition failed"


class TooManyRequests(DomainError):
    """A rate limit or lockout applies; Retry-After says when to try again."""

    status = 429
    code = "too_many_requests"
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int, **kwargs: Any) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))}, **kwargs)


class ServiceUnavailable(DomainError):
    """A dependency (database, another service) is not available."""

    status = 503
    code = "service_unavailable"
    title = "Service unavailable"


_STATUS_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    411: ("length_required", "Length required"),
    412: ("precondition_failed", "Precondition failed"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_failed", "Validation failed"),
    428: ("precondition_required", "Precondition required"),
    429: ("too_many_requests", "Too many requests"),
    500: ("internal_error", "Internal server error"),
    502: ("bad_gateway", "Bad gateway"),
    503: ("service_unavailable", "Service unavailable"),
    504: ("gateway_timeout", "Gateway timeout"),
}


def status_code_and_title(status: int) -> tuple[str, str]:
    """The stable code and English title for an HTTP status."""
    return _STATUS_CODES.get(status, ("error", "Error"))


def problem_body(
    *, status: int, code: str, title: str, detail: str | None = None, language: str = "en",
    request_id: str | None = None, instance: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None, extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a problem document as a dict, with the title translated."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": translate_title(code, title, language),
        "status": status,
        "code": code,
    }
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    if request_id:
        body["request_id"] = request_id
    if errors is not None:
        body["errors"] = list(errors)
    if extra:
        body.update(extra)
    return body


class ProblemResponse(Response):
    """A JSON response with the problem+json media type."""

    media_type = PROBLEM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        """Serialise the problem document."""
        return orjson.dumps(content)


def problem_response(request: Request, *, status: int, code: str, title: str, detail: str | None = None,
                     headers: Mapping[str, str] | None = None,
                     errors: Sequence[Mapping[str, Any]] | None = None,
                     extra: Mapping[str, Any] | None = None) -> ProblemResponse:
    """Render a problem for this request (language from Accept-Language, request id bound)."""
    body = problem_body(
        status=status, code=code, title=title, detail=detail,
        language=negotiate_language(request.headers.get("accept-language")),
        request_id=request.scope.get("state", {}).get("request_id"),
        instance=request.url.path, errors=errors, extra=extra,
    )
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        # Never echo the rejected input back: it may be a child's name or an injection attempt.
        out.append({"loc": [str(p) if not isinstance(p, int) else p for p in err.get("loc", ())],
                    "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
    return out


async def _domain_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, DomainError)
    return problem_response(request, status=exc.status, code=exc.code, title=exc.title,
                            detail=exc.detail, headers=exc.headers, extra=exc.extra)


async def _validation_handler(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(request, status=422, code="validation_failed", title="Validation failed",
                            detail="The request is not valid; see errors.", errors=_validation_errors(exc))


async def _http_exception_handler(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, title = status_code_and_title(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail.lower() != title.lower() else None
    return problem_response(request, status=exc.status_code, code=code, title=title, detail=detail,
                            headers=exc.headers)


async def _unhandled_handler(request: Request, exc: Exception) -> ProblemResponse:
    log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return problem_response(request, status=500, code="internal_error", title="Internal server error",
                            detail="An unexpected error occurred; it has been logged.")


# SQLSTATEs meaning "the database is not there right now": connection exceptions (class 08), an administrator
# or crash shutdown, a server still starting, too many connections. A retry may succeed: 503, not 500.
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, looked up through SQLAlchemy's and the driver's wrappers."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            break
        code = getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None)
        if isinstance(code, str):
            return code
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


async def _database_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    """A database that is down answers 503 (retry later); a value Postgres refuses as data (SQLSTATE class 22,
    e.g. a NUL character in text) answers 422; anything else stays a 500."""
    state = _sqlstate(exc)
    if isinstance(exc, ConnectionError) or getattr(exc, "connection_invalidated", False) or (
            state is not None and state.startswith(_UNAVAILABLE_SQLSTATES)):
        log.warning("database_unavailable", path=request.url.path, error_type=type(exc).__name__, sqlstate=state)
        return problem_response(request, status=503, code="service_unavailable", title="Service unavailable",
                                detail="The database is not reachable right now; retry shortly.",
                                headers={"Retry-After": "2"})
    if state is not None and state.startswith("22"):
        log.info("database_refused_value", path=request.url.path, sqlstate=state)
        return problem_response(request, status=422, code="invalid_input", title="Invalid input",
                                detail="A value of the request cannot be stored (for example a NUL character "
                                       "in a text, or a number out of range).")
    return await _unhandled_handler(request, exc)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error path of `app` answer application/problem+json."""
    app.add_exception_handler(DomainError, _domain_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(DBAPIError, _database_error_handler)
    app.add_exception_handler(ConnectionError, _database_error_handler)
    # Unhandled exceptions: RequestContextMiddleware answers them (with the request id) when present;
    # this handler covers apps without it.
    app.add_exception_handler(Exception, _unhandled_handler)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting problem answers for the given statuses."""
    return {
        s: {"model": Problem, "description": status_code_and_title(s)[1],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        for s in statuses
    }
