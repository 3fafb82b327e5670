"""Routes of /v1/clients (machine clients of partner systems)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta

from fastapi import APIRouter, Request, Response

from himaya import clock
from himaya.errors import problem_responses
from himaya.etag import required_version
from himaya.pagination import Page, PageDep
from identity_service.clients import service
from identity_service.clients.records import Client
from identity_service.clients.schemas import ClientCreate, ClientRead, ClientUpdate, ClientWithSecret, SecretRotation
from identity_service.core.deps import ActiveContext, SettingsDep
from identity_service.core.responses import set_etag

router = APIRouter(tags=["clients"])
READ_ERRORS = problem_responses(401, 403, 404, 422)
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)


def _read(client: Client) -> ClientRead:
    return ClientRead.model_validate(dataclasses.asdict(client))


def _with_secret(client: Client, secret: str, previous_expire_at: datetime | None = None) -> ClientWithSecret:
    return ClientWithSecret.model_validate({**dataclasses.asdict(client), "client_id": client.id,
                                           "client_secret": secret, "previous_secrets_expire_at": previous_expire_at})


@router.post("/v1/clients", status_code=201, response_model=ClientWithSecret,
             responses=problem_responses(401, 403, 409, 422))
async def create_client(body: ClientCreate, ctx: ActiveContext, response: Response) -> ClientWithSecret:
    """Create a machine client (admin). The secret is in this response only; store it now.

    No Idempotency-Key here: replaying would mean storing the secret. A retry answers 409 (the name is
    taken); rotate the secret if the first answer was lost."""
    client, secret = await service.create_client(ctx, name=body.name, organization_id=body.organization_id,
                                                 scopes=body.scopes, territories=body.territories, now=clock.now())
    response.headers["Cache-Control"] = "no-store"
    set_etag(response, client)
    return _with_secret(client, secret)


@router.get("/v1/clients", response_model=Page[ClientRead], responses=READ_ERRORS)
async def list_clients(ctx: ActiveContext, page: PageDep, organization_id: uuid.UUID | None = None
                       ) -> Page[ClientRead]:
    """List machine clients (admin)."""
    rows, cursor = await service.list_clients(ctx, organization_id=organization_id, cursor=page.cursor,
                                              limit=page.limit)
    return Page(items=[_read(r) for r in rows], next_cursor=cursor)


@router.get("/v1/clients/{client_id}", response_model=ClientRead, responses=READ_ERRORS)
async def get_client(client_id: uuid.UUID, ctx: ActiveContext, response: Response) -> ClientRead:
    """One machine client (admin)."""
    client = await service.get_client(ctx, client_id=client_id)
    set_etag(response, client)
    return _read(client)


@router.patch("/v1/clients/{client_id}", response_model=ClientRead, responses=WRITE_ERRORS)
async def update_client(client_id: uuid.UUID, body: ClientUpdate, request: Request, ctx: ActiveContext,
                        response: Response) -> ClientRead:
    """Change a machine client (admin; If-Match); `active: false` stops it obtaining tokens."""
    client = await service.update_client(ctx, client_id=client_id, expected_version=required_version(request),
                                         changes=body.model_dump(exclude_unset=True), now=clock.now())
    set_etag(response, client)
    return _read(client)


@router.post("/v1/clients/{client_id}/rotate-secret", response_model=ClientWithSecret,
             responses=problem_responses(401, 403, 404, 422))
async def rotate_client_secret(client_id: uuid.UUID, ctx: ActiveContext, settings: SettingsDep, response: Response,
                               body: SecretRotation | None = None) -> ClientWithSecret:
    """Issue a new secret (shown once); the previous ones keep working for the overlap window."""
    overlap = body.overlap_seconds if body and body.overlap_seconds is not None \
        else settings.client_secret_overlap_seconds
    client, secret, old_until = await service.rotate_client_secret(
        ctx, client_id=client_id, overlap=timedelta(seconds=overlap), now=clock.now())
    response.headers["Cache-Control"] = "no-store"
    return _with_secret(client, secret, old_until)
