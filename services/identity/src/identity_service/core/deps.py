"""Dependencies of the identity routes: the request's context (the active caller, or none for the public and
internal documents), settings-derived policies, and the token endpoint's own session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from himaya.auth import CurrentPrincipal
from himaya.db import Database, SessionDep
from himaya.errors import Forbidden, TooManyRequests, Unauthorized
from himaya.scopes import Scope
from identity_service.config import Settings
from identity_service.core.context import Context
from identity_service.core.crypto import KeyEncryption
from identity_service.core.errors import TokenRequestRefused
from identity_service.tokens import service as tokens
from identity_service.tokens.service import TokenPolicy


def get_settings(request: Request) -> Settings:
    """The service's settings."""
    settings: Settings = request.app.state.settings
    return settings


def _encryption(request: Request) -> KeyEncryption:
    encryption: KeyEncryption = request.app.state.key_encryption
    return encryption


def token_policy(settings: Settings) -> TokenPolicy:
    """Token lifetimes and lockout thresholds from settings."""
    return TokenPolicy(
        issuer=settings.token_issuer, audience=settings.token_audience,
        access_ttl=timedelta(seconds=settings.access_token_ttl),
        refresh_ttl=timedelta(seconds=settings.refresh_token_ttl),
        session_max_age=timedelta(seconds=settings.session_max_age),
        lockout_threshold=settings.lockout_threshold,
        lockout_window=timedelta(seconds=settings.lockout_window_seconds),
        lockout_duration=timedelta(seconds=settings.lockout_seconds),
        source_threshold=settings.source_failure_threshold,
        source_window=timedelta(seconds=settings.source_window_seconds),
        source_block=timedelta(seconds=settings.source_block_seconds),
    )


def get_token_policy(request: Request) -> TokenPolicy:
    """The token policy of this app."""
    return token_policy(get_settings(request))


def source_ip(request: Request) -> str | None:
    """The caller's address, as the request middleware computed it from the trusted proxies (himaya.forwarded)."""
    return request.client.host if request.client else None


async def active_context(request: Request, principal: CurrentPrincipal, session: SessionDep) -> Context:
    """The context of a verified caller, refused (401) if their user or client has been deactivated since the
    token was issued."""
    ctx = Context(session=session, principal=principal, encryption=_encryption(request))
    if not await tokens.subject_active(ctx, subject_type=principal.subject_type, subject_id=principal.subject_id):
        raise Unauthorized("The account behind this token is deactivated.")
    return ctx


ActiveContext = Annotated[Context, Depends(active_context)]


async def require_directory_read(ctx: ActiveContext) -> Context:
    """The context, if the caller's token carries directory:read."""
    if not ctx.caller.has_scope(Scope.DIRECTORY_READ):
        raise Forbidden("This operation needs the directory:read scope.")
    return ctx


def anonymous_context(request: Request, session: SessionDep) -> Context:
    """The context of a route any verifier may call (the JWKS document, the revocation feed)."""
    return Context(session=session, principal=None, encryption=_encryption(request))


async def token_context(request: Request) -> AsyncIterator[Context]:
    """Like himaya.db's session, but a refused token request still commits what it recorded: the failure
    count that drives lockout, the family revocation on refresh-token reuse, and the audit event."""
    db: Database = request.app.state.db
    async with db.sessionmaker() as session:
        await session.begin()
        try:
            yield Context(session=session, principal=None, encryption=_encryption(request))
        except (TokenRequestRefused, TooManyRequests):
            await session.commit()
            raise
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


DirectoryReader = Annotated[Context, Depends(require_directory_read)]
AnonymousContext = Annotated[Context, Depends(anonymous_context)]
TokenContext = Annotated[Context, Depends(token_context, scope="function")]
TokenPolicyDep = Annotated[TokenPolicy, Depends(get_token_policy)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SourceIpDep = Annotated[str | None, Depends(source_ip)]
