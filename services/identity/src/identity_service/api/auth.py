"""OAuth2 token and revocation endpoints, the JWKS document, and /v1/me."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Form, Query, Request, Response

from himaya.db import SessionDep
from himaya.errors import problem_responses
from identity_service.api.deps import (
    ActivePrincipal,
    EncryptionDep,
    SourceIpDep,
    TokenPolicyDep,
    TokenSessionDep,
    utc_now,
)
from identity_service.domain import directory, keys, revocations, tokens
from identity_service.domain.errors import InvalidTokenRequest, UnsupportedGrantType
from identity_service.schemas.auth import JWKS, RevocationFeed, TokenResponse
from identity_service.schemas.directory import MeOrganization, MeRead

router = APIRouter(tags=["authentication"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
FormField = Annotated[str | None, Form(max_length=4096)]


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidTokenRequest("The Basic authorization header is malformed.") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidTokenRequest("The Basic authorization header is malformed.")
    # RFC 6749 §2.3.1: the id and secret are form-urlencoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


@router.post(
    "/v1/auth/token", response_model=TokenResponse, response_model_exclude_none=True,
    summary="Obtain tokens (OAuth2 password, refresh_token, client_credentials)",
    responses=problem_responses(400, 401, 422, 429, 503),
)
async def issue_token(
    request: Request, response: Response, session: TokenSessionDep, policy: TokenPolicyDep,
    encryption: EncryptionDep, ip: SourceIpDep,
    grant_type: Annotated[str, Form(max_length=64)],
    username: FormField = None, password: FormField = None, refresh_token: FormField = None,
    client_id: FormField = None, client_secret: FormField = None, scope: FormField = None,
) -> TokenResponse:
    """Form-encoded OAuth2 token endpoint: humans use `password` then `refresh_token`; partner systems use
    `client_credentials` with HTTP Basic or form client authentication."""
    response.headers.update(NO_STORE)
    now = utc_now()
    if grant_type == "password":
        if not username or password is None:
            raise InvalidTokenRequest("The password grant needs username and password.")
        issued = await tokens.password_grant(session, username=username, password=password, source_ip=ip,
                                             policy=policy, encryption=encryption, now=now)
    elif grant_type == "refresh_token":
        if not refresh_token:
            raise InvalidTokenRequest("The refresh_token grant needs refresh_token.")
        issued = await tokens.refresh_grant(session, refresh_token=refresh_token, source_ip=ip, policy=policy,
                                            encryption=encryption, now=now)
    elif grant_type == "client_credentials":
        basic = _basic_credentials(request)
        if basic is not None and (client_id is not None or client_secret is not None):
            if client_secret is not None or client_id != basic[0]:
                raise InvalidTokenRequest("Authenticate the client with Basic or with the form, not both.")
        cid, secret = basic if basic is not None else (client_id, client_secret)
        if not cid or not secret:
            raise InvalidTokenRequest("The client_credentials grant needs client_id and client_secret.")
        issued = await tokens.client_credentials_grant(session, client_id=cid, client_secret=secret,
                                                       requested_scope=scope, source_ip=ip, policy=policy,
                                                       encryption=encryption, now=now)
    else:
        raise UnsupportedGrantType("Use password, refresh_token or client_credentials.")
    return TokenResponse(access_token=issued.access_token, expires_in=issued.expires_in, scope=issued.scope,
                         refresh_token=issued.refresh_token)


@router.post("/v1/auth/revoke", status_code=200, summary="Revoke a refresh token (RFC 7009)",
             response_class=Response, responses={
                 200: {"description": "Revoked, or nothing to revoke (an empty body)", "content": None},
                 **problem_responses(422)})
async def revoke_token(
    session: SessionDep, ip: SourceIpDep, token: Annotated[str, Form(max_length=4096)],
    token_type_hint: FormField = None,
) -> Response:
    """Revoke a refresh token and every token of its login; answers 200 whatever the token was (RFC 7009 §2.2).
    Access tokens are not revocable: they expire within minutes."""
    await tokens.revoke(session, token=token, source_ip=ip, now=utc_now())
    return Response(status_code=200, headers=NO_STORE)


@router.get("/.well-known/jwks.json", response_model=JWKS, summary="Public signing keys (JWKS)")
async def get_jwks(session: SessionDep, response: Response) -> JWKS:
    """The public keys that verify access tokens: the signing key, a key about to sign, and retired keys
    until the last token they signed has expired."""
    response.headers["Cache-Control"] = "public, max-age=60"
    return JWKS(**await keys.jwks(session, now=utc_now()))


@router.get("/internal/v1/revocations", response_model=RevocationFeed, tags=["authentication"],
            summary="Revocations after a cursor (internal: the services' verifiers)",
            responses=problem_responses(422))
async def get_revocations(
    session: SessionDep, response: Response,
    after: Annotated[int | None, Query(ge=0, description="The cursor of the previous answer; none: from the start.")]
    = None,
    limit: Annotated[int, Query(ge=1, le=revocations.FEED_PAGE_MAX)] = revocations.FEED_PAGE_MAX,
) -> RevocationFeed:
    """The deny-list every verifier polls: entries name only user, client and key ids. Not routed by the
    gateway; reachable on the internal network only (decision 0103)."""
    response.headers["Cache-Control"] = "no-store"
    return RevocationFeed(**await revocations.feed(session, after=after, limit=limit, now=utc_now()))


@router.get("/v1/me", response_model=MeRead, summary="The caller",
            responses=problem_responses(401, 404))
async def get_me(session: SessionDep, principal: ActivePrincipal) -> MeRead:
    """The caller: user or client, organisation, role, scopes and territories."""
    me = await directory.describe_caller(session, principal=principal)
    org = me.organization
    return MeRead(
        subject=principal.actor, subject_type="user" if me.user is not None else "client",
        id=principal.subject_id, username=me.user["username"] if me.user else None,
        full_name=me.user["full_name"] if me.user else None, name=me.client["name"] if me.client else None,
        role=principal.role, scopes=sorted(principal.scopes), territories=list(principal.territories),
        organization=MeOrganization(id=org["id"], name=org["name"], type=org["type"],
                                    territory_code=org["territory_code"], court_code=org["court_code"]))
