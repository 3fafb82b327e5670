"""The OAuth2 token endpoint and the revocation of refresh tokens (RFC 7009)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Form, Request, Response

from himaya import clock
from himaya.errors import problem_responses
from identity_service.core.deps import AnonymousContext, SourceIpDep, TokenContext, TokenPolicyDep
from identity_service.core.errors import InvalidTokenRequest, UnsupportedGrantType
from identity_service.tokens import service as tokens
from identity_service.tokens.schemas import TokenResponse

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
    request: Request, response: Response, ctx: TokenContext, policy: TokenPolicyDep, ip: SourceIpDep,
    grant_type: Annotated[str, Form(max_length=64)],
    username: FormField = None, password: FormField = None, refresh_token: FormField = None,
    client_id: FormField = None, client_secret: FormField = None, scope: FormField = None,
) -> TokenResponse:
    """Form-encoded OAuth2 token endpoint: humans use `password` then `refresh_token`; partner systems use
    `client_credentials` with HTTP Basic or form client authentication."""
    response.headers.update(NO_STORE)
    now = clock.now()
    if grant_type == "password":
        if not username or password is None:
            raise InvalidTokenRequest("The password grant needs username and password.")
        issued = await tokens.password_grant(ctx, username=username, password=password, source_ip=ip,
                                             policy=policy, now=now)
    elif grant_type == "refresh_token":
        if not refresh_token:
            raise InvalidTokenRequest("The refresh_token grant needs refresh_token.")
        issued = await tokens.refresh_grant(ctx, refresh_token=refresh_token, source_ip=ip, policy=policy, now=now)
    elif grant_type == "client_credentials":
        basic = _basic_credentials(request)
        if basic is not None and (client_id is not None or client_secret is not None):
            if client_secret is not None or client_id != basic[0]:
                raise InvalidTokenRequest("Authenticate the client with Basic or with the form, not both.")
        cid, secret = basic if basic is not None else (client_id, client_secret)
        if not cid or not secret:
            raise InvalidTokenRequest("The client_credentials grant needs client_id and client_secret.")
        issued = await tokens.client_credentials_grant(ctx, client_id=cid, client_secret=secret,
                                                       requested_scope=scope, source_ip=ip, policy=policy, now=now)
    else:
        raise UnsupportedGrantType("Use password, refresh_token or client_credentials.")
    return TokenResponse(access_token=issued.access_token, expires_in=issued.expires_in, scope=issued.scope,
                         refresh_token=issued.refresh_token)


@router.post("/v1/auth/revoke", status_code=200, summary="Revoke a refresh token (RFC 7009)",
             response_class=Response, responses={
                 200: {"description": "Revoked, or nothing to revoke (an empty body)", "content": None},
                 **problem_responses(422)})
async def revoke_token(
    ctx: AnonymousContext, ip: SourceIpDep, token: Annotated[str, Form(max_length=4096)],
    token_type_hint: FormField = None,
) -> Response:
    """Revoke a refresh token and every token of its login; answers 200 whatever the token was (RFC 7009 §2.2).
    Access tokens are not revocable: they expire within minutes."""
    await tokens.revoke(ctx, token=token, source_ip=ip, now=clock.now())
    return Response(status_code=200, headers=NO_STORE)
