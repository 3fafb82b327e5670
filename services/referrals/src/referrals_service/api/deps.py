"""Dependencies of the referrals routes: clients, settings, cipher, idempotency, and the idempotent response."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.auth import Principal, require_scopes
from himaya.crypto import FieldCipher
from himaya.idempotency import Idempotency, idempotency_dependency
from himaya.scopes import Scope
from referrals_service.clients.directory import CasesClient, IdentityClient
from referrals_service.config import Settings
from referrals_service.db.tables import idempotency_keys


def get_settings(request: Request) -> Settings:
    """The service's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_cases_client(request: Request) -> CasesClient:
    """The client of the cases service."""
    client: CasesClient = request.app.state.cases_client
    return client


def get_identity_client(request: Request) -> IdentityClient:
    """The client of the identity service."""
    client: IdentityClient = request.app.state.identity_client
    return client


def get_cipher(request: Request) -> FieldCipher:
    """The cipher of the service's free texts (built in the lifespan from REFERRALS_FIELD_KEYS)."""
    cipher: FieldCipher = request.app.state.field_cipher
    return cipher


def caller_authorization(request: Request) -> str:
    """The caller's own Authorization header, forwarded to the services we check with."""
    return request.headers.get("authorization", "")


SettingsDep = Annotated[Settings, Depends(get_settings)]
CasesDep = Annotated[CasesClient, Depends(get_cases_client)]
IdentityDep = Annotated[IdentityClient, Depends(get_identity_client)]
CipherDep = Annotated[FieldCipher, Depends(get_cipher)]
AuthorizationDep = Annotated[str, Depends(caller_authorization)]
IdempotencyDep = Annotated[Idempotency, idempotency_dependency(idempotency_keys)]
IdempotencyRequiredDep = Annotated[Idempotency, idempotency_dependency(idempotency_keys, required=True)]

Reader = Annotated[Principal, Depends(require_scopes(Scope.REFERRALS_READ))]
Sender = Annotated[Principal, Depends(require_scopes(Scope.REFERRALS_WRITE))]
Receiver = Annotated[Principal, Depends(require_scopes(Scope.REFERRALS_RECEIVE))]
Decider = Annotated[Principal, Depends(require_scopes(Scope.DECISIONS_WRITE))]
WebhookManager = Annotated[Principal, Depends(require_scopes(Scope.WEBHOOKS_MANAGE))]
Administrator = Annotated[Principal, Depends(require_scopes(Scope.IDENTITY_ADMIN))]


async def idempotent(idem: Idempotency, *, session: AsyncSession, principal: Principal, request_body: Any,
                     status_code: int, produce: Callable[[], Awaitable[BaseModel]]) -> Response:
    """Replay the stored answer for a repeated Idempotency-Key, or produce, store and return a new one.

    The store keeps the answer sealed with the service's field cipher, bound to the caller and key (decision
    0104); first answers and replays are the same bytes.
    """
    return await idem.run(session, caller=principal.actor, request_body=request_body, produce=produce,
                          status_code=status_code)
