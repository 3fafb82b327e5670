"""The JWKS document and the administration of signing keys (rotation, emergency revocation)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Response

from himaya import clock
from himaya.errors import problem_responses
from identity_service.core.deps import ActiveContext, AnonymousContext, SettingsDep
from identity_service.keys import service as keys
from identity_service.keys.records import KeyState
from identity_service.keys.schemas import JWKS, SigningKeyRead

router = APIRouter()


def _read(states: list[KeyState]) -> list[SigningKeyRead]:
    return [SigningKeyRead.model_validate(dataclasses.asdict(k)) for k in states]


@router.get("/.well-known/jwks.json", response_model=JWKS, summary="Public signing keys (JWKS)",
            tags=["authentication"])
async def get_jwks(ctx: AnonymousContext, response: Response) -> JWKS:
    """The public keys that verify access tokens: the signing key, a key about to sign, and retired keys
    until the last token they signed has expired."""
    response.headers["Cache-Control"] = "public, max-age=60"
    return JWKS(**await keys.jwks(ctx, now=clock.now()))


@router.get("/v1/signing-keys", response_model=list[SigningKeyRead], tags=["signing keys"],
            responses=problem_responses(401, 403))
async def list_signing_keys(ctx: ActiveContext) -> list[SigningKeyRead]:
    """Published signing keys and their lifecycle (admin)."""
    return _read(await keys.list_signing_keys(ctx, now=clock.now()))


@router.post("/v1/signing-keys/rotate", status_code=201, response_model=list[SigningKeyRead],
             tags=["signing keys"], responses=problem_responses(401, 403, 409))
async def rotate_signing_key(ctx: ActiveContext, settings: SettingsDep) -> list[SigningKeyRead]:
    """Publish a new signing key now; it starts signing after the lead time, and the current key leaves the
    JWKS once its last token has expired (admin)."""
    return _read(await keys.rotate_signing_key(ctx, now=clock.now(),
                                               lead=timedelta(seconds=settings.signing_key_lead_seconds),
                                               access_ttl=timedelta(seconds=settings.access_token_ttl)))


@router.post("/v1/signing-keys/{kid}/revoke", response_model=list[SigningKeyRead], tags=["signing keys"],
             responses=problem_responses(401, 403, 404, 409, 422))
async def revoke_signing_key(
    ctx: ActiveContext, settings: SettingsDep,
    kid: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
) -> list[SigningKeyRead]:
    """Emergency revocation of a compromised signing key (national administrator): it leaves the JWKS at
    once, every token it signed is refused by every service within seconds, and a new key signs at once."""
    return _read(await keys.revoke_signing_key(ctx, kid=kid, now=clock.now(),
                                               access_ttl=timedelta(seconds=settings.access_token_ttl)))
