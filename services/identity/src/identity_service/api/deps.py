"""Dependencies of the identity routes: settings-derived policies, the caller, the token endpoint's session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.auth import CurrentPrincipal, Principal
from himaya.db import Database, SessionDep
from himaya.errors import TooManyRequests, Unauthorized
from identity_service.config import Settings
from identity_service.db import directory as repo
from identity_service.domain.crypto import KeyEncryption
from identity_service.domain.errors import TokenRequestRefused
from identity_service.domain.tokens import TokenPolicy


def utc_now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def get_settings(request: Request) -> Settings:
    """The service's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_encryption(request: Request) -> KeyEncryption:
    """The encryption of private signing keys at rest."""
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


async def get_active_principal(principal: CurrentPrincipal, session: SessionDep) -> Principal:
    """The verified caller, refused (401) if their user or client has been deactivated since the token."""
    if not await repo.subject_active(session, subject_type=principal.subject_type, subject_id=principal.subject_id):
        raise Unauthorized("The account behind this token is deactivated.")
    return principal


ActivePrincipal = Annotated[Principal, Depends(get_active_principal)]
EncryptionDep = Annotated[KeyEncryption, Depends(get_encryption)]
TokenPolicyDep = Annotated[TokenPolicy, Depends(get_token_policy)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SourceIpDep = Annotated[str | None, Depends(source_ip)]


async def get_token_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Like himaya.db's session, but a refused token request still commits what it recorded: the failure
    count that drives lockout, the family revocation on refresh-token reuse, and the audit event."""
    db: Database = request.app.state.db
    async with db.sessionmaker() as session:
        await session.begin()
        try:
            yield session
        except (TokenRequestRefused, TooManyRequests):
            await session.commit()
            raise
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


TokenSessionDep = Annotated[AsyncSession, Depends(get_token_session, scope="function")]
