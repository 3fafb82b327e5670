"""Users: who may create and change which account (core.access), their grants, and the caller's own record."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from himaya.audit import AuditEntry
from himaya.auth import Principal
from himaya.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from himaya.pagination import build_page
from himaya.scopes import Role
from identity_service.clients import service as clients
from identity_service.core import access
from identity_service.core.audit import audit, record_event
from identity_service.core.context import Context
from identity_service.core.crypto import check_password_policy, hash_password
from identity_service.core.pages import after_id
from identity_service.organizations import service as organizations
from identity_service.revocations import service as revocations
from identity_service.territories import service as reference
from identity_service.tokens import service as tokens
from identity_service.users import repository as repo
from identity_service.users.records import Me, User


async def _load_visible_user(ctx: Context, principal: Principal, user_id: uuid.UUID) -> User:
    user = await repo.get_user(ctx.session, user_id)
    if user is None or not access.may_see_organization_users(principal, user.organization_id):
        raise NotFound("No such user.")
    return user


async def create_user(ctx: Context, *, username: str, full_name: str, email: str | None,
                      organization_id: uuid.UUID, role: str, territories: Sequence[str], password: str) -> User:
    """Create a user; the caller may only grant what they hold (no caller: the seed command)."""
    principal = ctx.principal
    org = await organizations.find_organization(ctx, organization_id=organization_id)
    if org is None:
        raise InvalidInput("The organisation does not exist.")
    await _check_territories(ctx, territories)
    # An account an organisation administrator creates with a role that reaches case data waits, inactive,
    # for an administrator to activate it (and set its password).
    active = principal is None or access.is_admin(principal) or not access.reaches_case_data(role)
    if principal is not None:
        access.require_user_manager(principal)
        access.check_user_change(principal, before=None, after=access.UserState(
            organization_id=organization_id, role=role, territories=tuple(territories), active=active),
            org_type=org.type, password_set=True)
    elif Role(role) not in access.roles_for(org.type):
        raise InvalidInput(f"An organisation of type {org.type} cannot have users with role {role}.")
    check_password_policy(password, username=username)
    if await repo.username_taken(ctx.session, username):
        raise Conflict("This username is taken.")
    user_id = uuid.uuid4()
    await repo.insert_user(ctx.session, {
        "id": user_id, "username": username, "full_name": full_name, "email": email,
        "organization_id": organization_id, "role": role, "territories": list(dict.fromkeys(territories)),
        "password_hash": await hash_password(password), "active": active})
    await record_event(ctx, AuditEntry(
        "user.create", "user", str(user_id),
        fields=("username", "full_name", "email", "organization_id", "role", "territories", "password"),
        outcome="success" if active else "pending_activation"),
        principal=principal, actor=None if principal else "system:seed")
    user = await repo.get_user(ctx.session, user_id)
    assert user is not None
    return user


async def _check_territories(ctx: Context, codes: Sequence[str]) -> None:
    await reference.check_territories(ctx, codes)


async def username_taken(ctx: Context, username: str) -> bool:
    """Whether a user already has this username (case-insensitive)."""
    return await repo.username_taken(ctx.session, username)


async def get_user(ctx: Context, *, user_id: uuid.UUID) -> User:
    """A user the caller administers (404 otherwise)."""
    access.require_user_manager(ctx.caller)
    return await _load_visible_user(ctx, ctx.caller, user_id)


async def get_user_entry(ctx: Context, *, user_id: uuid.UUID) -> User:
    """A user's directory entry (organisation, role, territories, active), readable with directory:read."""
    user = await repo.get_user(ctx.session, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


async def active_user_ids(ctx: Context, user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of `user_ids` are active users."""
    return await repo.existing_active_user_ids(ctx.session, user_ids)


async def list_users(ctx: Context, *, organization_id: uuid.UUID | None, role: str | None, active: bool | None,
                     cursor: str | None, limit: int) -> tuple[list[User], str | None]:
    """A page of users; an organisation administrator only ever sees their own organisation's."""
    principal = ctx.caller
    access.require_user_manager(principal)
    if not access.is_admin(principal):
        if organization_id is not None and organization_id != principal.organization_id:
            return [], None
        organization_id = principal.organization_id
    rows = await repo.list_users(ctx.session, organization_id=organization_id, role=role, active=active,
                                 after=after_id(cursor), limit=limit + 1)
    return build_page(rows, limit, lambda r: [str(r.id)])


def _user_state(user: User) -> access.UserState:
    return access.UserState(organization_id=user.organization_id, role=user.role,
                            territories=tuple(user.territories), active=user.active)


async def update_user(ctx: Context, *, user_id: uuid.UUID, expected_version: int, changes: dict[str, Any],
                      now: datetime) -> User:
    """Change a user's profile, role, territories, password or activity (If-Match), within the caller's grants."""
    principal = ctx.caller
    access.require_user_manager(principal)
    user = await _load_visible_user(ctx, principal, user_id)
    if user.version != expected_version:
        raise PreconditionFailed("The user changed since you read it; read it again.")
    own = user_id == principal.subject_id
    if own and ({"role", "territories", "active"} & changes.keys()):
        raise InvalidInput("You cannot change your own role, territories or activity.")
    values = dict(changes)
    if not own:
        # The same rule on the account as it is and as it will be, whichever fields change.
        before = _user_state(user)
        after = access.UserState(organization_id=user.organization_id, role=changes.get("role", user.role),
                                 territories=tuple(changes.get("territories", user.territories)),
                                 active=changes.get("active", user.active))
        if "territories" in changes:
            await _check_territories(ctx, changes["territories"])
        if (after.active and "active" not in changes and not access.is_admin(principal)
                and access.reaches_case_data(after.role)
                and not (before.active and access.reaches_case_data(before.role))):
            # An organisation administrator giving a role that reaches case data asks for it: the account
            # waits, inactive, for an administrator.
            after = dataclasses.replace(after, active=False)
            values["active"] = False
        access.check_user_change(principal, before=before, after=after, org_type=user.organization_type,
                                 password_set="password" in changes)
    fields = list(values)
    password = values.pop("password", None)
    if password is not None:
        check_password_policy(password, username=user.username)
        values["password_hash"] = await hash_password(password)
        values["password_changed_at"] = now
    if "territories" in values:
        values["territories"] = list(dict.fromkeys(values["territories"]))
    if not await repo.update_user(ctx.session, user_id, expected_version=expected_version, values=values):
        raise PreconditionFailed("The user changed since you read it; read it again.")
    if values.get("active") is False or password is not None or "role" in values or "territories" in values:
        # Whatever a refresh token was issued for no longer holds: the next login picks up the new grants.
        await tokens.revoke_user_refresh_tokens(ctx, user_id=user_id, now=now)
    await revocations.revoke_user_if_needed(ctx, user_id=user_id, changes=changes, now=now)
    if values.get("active") is False or password is not None:
        await tokens.clear_login_failures(ctx, username=user.username)
    action = "user.deactivate" if values.get("active") is False else "user.update"
    await audit(ctx, action, "user", user_id, fields)
    updated = await repo.get_user(ctx.session, user_id)
    assert updated is not None
    return updated


async def unlock_user(ctx: Context, *, user_id: uuid.UUID) -> None:
    """Lift a lockout on a user's login."""
    principal = ctx.caller
    access.require_user_manager(principal)
    user = await _load_visible_user(ctx, principal, user_id)
    access.check_user_state(principal, _user_state(user))
    await tokens.clear_login_failures(ctx, username=user.username)
    await audit(ctx, "user.unlock", "user", user_id)


async def describe_caller(ctx: Context) -> Me:
    """The caller's user or client record and organisation."""
    principal = ctx.caller
    user = client = None
    if principal.subject_type == "user":
        user = await repo.get_user(ctx.session, principal.subject_id)
        org_id = user.organization_id if user else None
    else:
        client = await clients.find_client(ctx, client_id=principal.subject_id)
        org_id = client.organization_id if client else None
    org = await organizations.find_organization(ctx, organization_id=org_id) if org_id else None
    if org is None:
        raise NotFound("The caller is not known to identity.")
    return Me(principal=principal, organization=org, user=user, client=client)
