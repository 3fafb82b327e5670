"""Reference data (territories, roles) and signing-key administration."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from himaya.db import SessionDep
from himaya.errors import problem_responses
from himaya.i18n import negotiate_language
from himaya.pagination import Page, PageDep
from identity_service.api.deps import ActivePrincipal, EncryptionDep, SettingsDep, utc_now
from identity_service.api.directory import DirectoryReader
from identity_service.domain import keys, policy, reference
from identity_service.schemas.directory import RoleRead, SigningKeyRead, TerritoryCode, TerritoryRead

router = APIRouter()


@router.get("/v1/territories", response_model=Page[TerritoryRead], tags=["reference data"],
            responses=problem_responses(401, 403, 422))
async def list_territories(
    request: Request, session: SessionDep, principal: DirectoryReader, page: PageDep,
    level: Annotated[Literal["region", "prefecture", "commune", "arrondissement"] | None, Query()] = None,
    parent_code: Annotated[TerritoryCode | None, Query(description="Direct children of this territory.")] = None,
) -> Page[TerritoryRead]:
    """Territories (regions, prefectures and provinces, communes, arrondissements); `name` follows
    Accept-Language (ar, or fr by default)."""
    language = negotiate_language(request.headers.get("accept-language"))
    rows, cursor = await reference.list_territories(session, level=level, parent_code=parent_code,
                                                    cursor=page.cursor, limit=page.limit)
    items = [TerritoryRead.model_validate({**dict(r), "name": r["name_ar"] if language == "ar" else r["name_fr"]})
             for r in rows]
    return Page(items=items, next_cursor=cursor)


@router.get("/v1/roles", response_model=list[RoleRead], tags=["reference data"],
            responses=problem_responses(401, 403))
async def list_roles(principal: DirectoryReader) -> list[RoleRead]:
    """Every role with the scopes its tokens carry (himaya.scopes.ROLE_SCOPES, the single source of truth)."""
    return [RoleRead.model_validate(r) for r in reference.roles_table()]


@router.get("/v1/signing-keys", response_model=list[SigningKeyRead], tags=["signing keys"],
            responses=problem_responses(401, 403))
async def list_signing_keys(session: SessionDep, principal: ActivePrincipal) -> list[SigningKeyRead]:
    """Published signing keys and their lifecycle (admin)."""
    policy.require_admin(principal)
    return [SigningKeyRead.model_validate(k) for k in await keys.key_states(session, now=utc_now())]


@router.post("/v1/signing-keys/rotate", status_code=201, response_model=list[SigningKeyRead],
             tags=["signing keys"], responses=problem_responses(401, 403, 409))
async def rotate_signing_key(session: SessionDep, principal: ActivePrincipal, settings: SettingsDep,
                             encryption: EncryptionDep) -> list[SigningKeyRead]:
    """Publish a new signing key now; it starts signing after the lead time, and the current key leaves the
    JWKS once its last token has expired (admin)."""
    states = await keys.rotate_signing_key(session, principal=principal, encryption=encryption, now=utc_now(),
                                           lead=timedelta(seconds=settings.signing_key_lead_seconds),
                                           access_ttl=timedelta(seconds=settings.access_token_ttl))
    return [SigningKeyRead.model_validate(k) for k in states]


@router.post("/v1/signing-keys/{kid}/revoke", response_model=list[SigningKeyRead], tags=["signing keys"],
             responses=problem_responses(401, 403, 404, 409, 422))
async def revoke_signing_key(
    session: SessionDep, principal: ActivePrincipal, settings: SettingsDep, encryption: EncryptionDep,
    kid: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
) -> list[SigningKeyRead]:
    """Emergency revocation of a compromised signing key (national administrator): it leaves the JWKS at
    once, every token it signed is refused by every service within seconds, and a new key signs at once."""
    states = await keys.revoke_signing_key(session, principal=principal, kid=kid, encryption=encryption,
                                           now=utc_now(), access_ttl=timedelta(seconds=settings.access_token_ttl))
    return [SigningKeyRead.model_validate(k) for k in states]
