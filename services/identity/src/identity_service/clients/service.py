"""Machine clients of partner systems: created and changed by administrators; their secrets shown once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from himaya.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from himaya.pagination import build_page
from identity_service.clients import repository as repo
from identity_service.clients.records import Client
from identity_service.core import access
from identity_service.core.audit import audit
from identity_service.core.context import Context
from identity_service.core.crypto import new_secret, secret_digest
from identity_service.core.pages import after_id
from identity_service.organizations import service as organizations
from identity_service.revocations import service as revocations
from identity_service.territories import service as reference


async def create_client(ctx: Context, *, name: str, organization_id: uuid.UUID, scopes: Sequence[str],
                        territories: Sequence[str], now: datetime) -> tuple[Client, str]:
    """Create a machine client (admin; no caller: the seed command); returns it with its secret, which is
    never shown again."""
    if ctx.principal is not None:
        access.require_admin(ctx.principal)
    if await organizations.find_organization(ctx, organization_id=organization_id) is None:
        raise InvalidInput("The organisation does not exist.")
    access.check_client_scopes(scopes)
    await reference.check_territories(ctx, territories)
    if ctx.principal is not None:
        access.check_territory_grant(ctx.principal, territories)
    if await repo.find_client(ctx.session, organization_id=organization_id, name=name) is not None:
        raise Conflict("This organisation already has a client with this name.")
    client_id = uuid.uuid4()
    await repo.insert_client(ctx.session, {"id": client_id, "name": name, "organization_id": organization_id,
                                           "scopes": sorted(set(scopes)),
                                           "territories": list(dict.fromkeys(territories))})
    secret = new_secret()
    await repo.insert_client_secret(ctx.session, client_id=client_id, secret_hash=secret_digest(secret),
                                    created_at=now)
    await audit(ctx, "client.create", "client", client_id,
                ("name", "organization_id", "scopes", "territories", "secret"))
    client = await repo.get_client(ctx.session, client_id)
    assert client is not None
    return client, secret


async def find_client(ctx: Context, *, client_id: uuid.UUID | None = None, organization_id: uuid.UUID | None = None,
                      name: str | None = None) -> Client | None:
    """A client by id, or by its natural key (name within an organisation); None when there is none."""
    if client_id is not None:
        return await repo.get_client(ctx.session, client_id)
    assert organization_id is not None and name is not None
    return await repo.find_client(ctx.session, organization_id=organization_id, name=name)


async def get_client(ctx: Context, *, client_id: uuid.UUID) -> Client:
    """A machine client (admin)."""
    access.require_admin(ctx.caller)
    client = await repo.get_client(ctx.session, client_id)
    if client is None:
        raise NotFound("No such client.")
    return client


async def list_clients(ctx: Context, *, organization_id: uuid.UUID | None, cursor: str | None,
                       limit: int) -> tuple[list[Client], str | None]:
    """A page of machine clients (admin)."""
    access.require_admin(ctx.caller)
    rows = await repo.list_clients(ctx.session, organization_id=organization_id, after=after_id(cursor),
                                   limit=limit + 1)
    return build_page(rows, limit, lambda r: [str(r.id)])


async def update_client(ctx: Context, *, client_id: uuid.UUID, expected_version: int, changes: dict[str, Any],
                        now: datetime) -> Client:
    """Change a client's name, scopes, territories or activity (admin; If-Match)."""
    client = await get_client(ctx, client_id=client_id)
    if client.version != expected_version:
        raise PreconditionFailed("The client changed since you read it; read it again.")
    if "scopes" in changes:
        access.check_client_scopes(changes["scopes"])
        changes["scopes"] = sorted(set(changes["scopes"]))
    # The caller must cover the client as it is and as it will be.
    access.check_territory_grant(ctx.caller, client.territories)
    if "territories" in changes:
        await reference.check_territories(ctx, changes["territories"])
        access.check_territory_grant(ctx.caller, changes["territories"])
    try:
        async with ctx.session.begin_nested():
            ok = await repo.update_client(ctx.session, client_id, expected_version=expected_version, values=changes)
    except IntegrityError as exc:
        raise Conflict("The client conflicts with an existing one.") from exc
    if not ok:
        raise PreconditionFailed("The client changed since you read it; read it again.")
    await revocations.revoke_client_if_needed(ctx, client_id=client_id, changes=changes, now=now)
    action = "client.deactivate" if changes.get("active") is False else "client.update"
    await audit(ctx, action, "client", client_id, tuple(changes))
    updated = await repo.get_client(ctx.session, client_id)
    assert updated is not None
    return updated


async def rotate_client_secret(ctx: Context, *, client_id: uuid.UUID, overlap: timedelta,
                               now: datetime) -> tuple[Client, str, datetime]:
    """Issue a new secret; the old ones keep working for `overlap` (0: stop at once). Returns the new secret
    and when the previous ones stop working."""
    client = await get_client(ctx, client_id=client_id)
    access.check_territory_grant(ctx.caller, client.territories)
    old_until = now + overlap
    await repo.expire_client_secrets(ctx.session, client_id=client_id, at=old_until)
    secret = new_secret()
    await repo.insert_client_secret(ctx.session, client_id=client_id, secret_hash=secret_digest(secret),
                                    created_at=now)
    await audit(ctx, "client.rotate_secret", "client", client_id, ("secret",))
    return client, secret, old_until
