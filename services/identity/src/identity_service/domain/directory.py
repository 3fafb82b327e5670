"""Organisations, users, machine clients and field teams: the rules, the grants and their audit trail."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.audit import AuditEntry, record
from himaya.auth import Principal
from himaya.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed
from himaya.pagination import build_page, decode_cursor
from himaya.scopes import Role
from identity_service.db import directory as repo
from identity_service.db import tokens as token_repo
from identity_service.db.tables import audit_events
from identity_service.domain import policy, revocations
from identity_service.domain.crypto import check_password_policy, hash_password, new_secret, secret_digest
from identity_service.domain.policy import OrganizationType

Row = Any


async def _audit(session: AsyncSession, principal: Principal | None, action: str, object_type: str,
                 object_id: uuid.UUID | str | None, fields: Sequence[str] = (), *, actor: str | None = None) -> None:
    await record(session, audit_events, AuditEntry(action, object_type, str(object_id) if object_id else None,
                                                   fields=tuple(fields)),
                 principal=principal, actor=actor)


def _after_id(cursor: str | None) -> uuid.UUID | None:
    if cursor is None:
        return None
    try:
        return uuid.UUID(str(decode_cursor(cursor, 1)[0]))
    except ValueError as exc:
        raise InvalidInput("The cursor is not valid.") from exc


async def _check_territories(session: AsyncSession, codes: Sequence[str]) -> None:
    policy.check_territory_codes(codes, await repo.existing_territory_codes(session, codes))


def _retry_conflict(exc: IntegrityError, what: str) -> Conflict:
    return Conflict(f"{what} conflicts with an existing one.")


# ---- organisations --------------------------------------------------------------------------------------


async def create_organization(session: AsyncSession, *, principal: Principal | None, name: str, type_: str,
                              territory_code: str, court_code: str | None) -> Row:
    """Create an organisation (admin); a prosecution office names its court."""
    if principal is not None:
        policy.require_admin(principal)
    await _validate_organization(session, type_=type_, territory_code=territory_code, court_code=court_code)
    if await repo.find_organization(session, name=name, territory_code=territory_code) is not None:
        raise Conflict("An organisation with this name already exists in this territory.")
    row = await repo.insert_organization(session, {
        "id": uuid.uuid4(), "name": name, "type": type_, "territory_code": territory_code, "court_code": court_code})
    await _audit(session, principal, "organization.create", "organization", row["id"],
                 ("name", "type", "territory_code", "court_code"), actor=None if principal else "system:seed")
    return row


async def _validate_organization(session: AsyncSession, *, type_: str, territory_code: str,
                                 court_code: str | None) -> None:
    await _check_territories(session, [territory_code])
    if court_code is not None and await repo.get_court(session, court_code) is None:
        raise InvalidInput(f"Unknown court code {court_code!r}.")
    if type_ == OrganizationType.PROSECUTION_OFFICE and court_code is None:
        raise InvalidInput("A prosecution office must name its court (court_code).")


async def get_organization(session: AsyncSession, *, organization_id: uuid.UUID) -> Row:
    """An organisation (directory data, readable by any caller with directory:read)."""
    row = await repo.get_organization(session, organization_id)
    if row is None:
        raise NotFound("No such organisation.")
    return row


async def list_organizations(session: AsyncSession, *, type_: str | None, territory_code: str | None,
                             cursor: str | None, limit: int) -> tuple[list[Row], str | None]:
    """A page of organisations."""
    rows = await repo.list_organizations(session, type_=type_, territory_code=territory_code,
                                         after=_after_id(cursor), limit=limit + 1)
    return build_page(rows, limit, lambda r: [str(r["id"])])


async def update_organization(session: AsyncSession, *, principal: Principal, organization_id: uuid.UUID,
                              expected_version: int, changes: dict[str, Any]) -> Row:
    """Change an organisation's name, type, territory or court (admin; If-Match)."""
    policy.require_admin(principal)
    current = await get_organization(session, organization_id=organization_id)
    merged = {**dict(current), **changes}
    await _validate_organization(session, type_=merged["type"], territory_code=merged["territory_code"],
                                 court_code=merged["court_code"])
    try:
        async with session.begin_nested():
            row = await repo.update_organization(session, organization_id, expected_version=expected_version,
                                                 values=changes)
    except IntegrityError as exc:
        raise _retry_conflict(exc, "The organisation") from exc
    if row is None:
        raise PreconditionFailed("The organisation changed since you read it; read it again.")
    await _audit(session, principal, "organization.update", "organization", organization_id, tuple(changes))
    return row


# ---- users ----------------------------------------------------------------------------------------------


async def _load_visible_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID) -> Row:
    user = await repo.get_user(session, user_id)
    if user is None or not policy.may_see_organization_users(principal, user["organization_id"]):
        raise NotFound("No such user.")
    return user


async def create_user(session: AsyncSession, *, principal: Principal | None, username: str, full_name: str,
                      email: str | None, organization_id: uuid.UUID, role: str, territories: Sequence[str],
                      password: str) -> Row:
    """Create a user; the caller may only grant what they hold (principal None: the seed command)."""
    org = await repo.get_organization(session, organization_id)
    if org is None:
        raise InvalidInput("The organisation does not exist.")
    await _check_territories(session, territories)
    # An account an organisation administrator creates with a role that reaches case data waits, inactive,
    # for an administrator to activate it (and set its password).
    active = principal is None or policy.is_admin(principal) or not policy.reaches_case_data(role)
    if principal is not None:
        policy.require_user_manager(principal)
        policy.check_user_change(principal, before=None, after=policy.UserState(
            organization_id=organization_id, role=role, territories=tuple(territories), active=active),
            org_type=org["type"], password_set=True)
    elif Role(role) not in policy.roles_for(org["type"]):
        raise InvalidInput(f"An organisation of type {org['type']} cannot have users with role {role}.")
    check_password_policy(password, username=username)
    if await repo.username_taken(session, username):
        raise Conflict("This username is taken.")
    user_id = uuid.uuid4()
    await repo.insert_user(session, {
        "id": user_id, "username": username, "full_name": full_name, "email": email,
        "organization_id": organization_id, "role": role, "territories": list(dict.fromkeys(territories)),
        "password_hash": await hash_password(password), "active": active})
    await record(session, audit_events, AuditEntry(
        "user.create", "user", str(user_id),
        fields=("username", "full_name", "email", "organization_id", "role", "territories", "password"),
        outcome="success" if active else "pending_activation"),
        principal=principal, actor=None if principal else "system:seed")
    return await repo.get_user(session, user_id)


async def get_user(session: AsyncSession, *, principal: Principal, user_id: uuid.UUID) -> Row:
    """A user the caller administers (404 otherwise)."""
    policy.require_user_manager(principal)
    return await _load_visible_user(session, principal, user_id)


async def get_user_entry(session: AsyncSession, *, user_id: uuid.UUID) -> Row:
    """A user's directory entry (organisation, role, territories, active), readable with directory:read."""
    user = await repo.get_user(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


async def list_users(session: AsyncSession, *, principal: Principal, organization_id: uuid.UUID | None,
                     role: str | None, active: bool | None, cursor: str | None,
                     limit: int) -> tuple[list[Row], str | None]:
    """A page of users; an organisation administrator only ever sees their own organisation's."""
    policy.require_user_manager(principal)
    if not policy.is_admin(principal):
        if organization_id is not None and organization_id != principal.organization_id:
            return [], None
        organization_id = principal.organization_id
    rows = await repo.list_users(session, organization_id=organization_id, role=role, active=active,
                                 after=_after_id(cursor), limit=limit + 1)
    return build_page(rows, limit, lambda r: [str(r["id"])])


def _user_state(user: Row) -> policy.UserState:
    return policy.UserState(organization_id=user["organization_id"], role=user["role"],
                            territories=tuple(user["territories"]), active=user["active"])


async def update_user(session: AsyncSession, *, principal: Principal, user_id: uuid.UUID, expected_version: int,
                      changes: dict[str, Any], now: datetime) -> Row:
    """Change a user's profile, role, territories, password or activity (If-Match), within the caller's grants."""
    policy.require_user_manager(principal)
    user = await _load_visible_user(session, principal, user_id)
    if user["version"] != expected_version:
        raise PreconditionFailed("The user changed since you read it; read it again.")
    own = user_id == principal.subject_id
    if own and ({"role", "territories", "active"} & changes.keys()):
        raise InvalidInput("You cannot change your own role, territories or activity.")
    values = dict(changes)
    if not own:
        # The same rule on the account as it is and as it will be, whichever fields change.
        before = _user_state(user)
        after = policy.UserState(organization_id=user["organization_id"], role=changes.get("role", user["role"]),
                                 territories=tuple(changes.get("territories", user["territories"])),
                                 active=changes.get("active", user["active"]))
        if "territories" in changes:
            await _check_territories(session, changes["territories"])
        if (after.active and "active" not in changes and not policy.is_admin(principal)
                and policy.reaches_case_data(after.role)
                and not (before.active and policy.reaches_case_data(before.role))):
            # An organisation administrator giving a role that reaches case data asks for it: the account
            # waits, inactive, for an administrator.
            after = dataclasses.replace(after, active=False)
            values["active"] = False
        policy.check_user_change(principal, before=before, after=after, org_type=user["organization_type"],
                                 password_set="password" in changes)
    fields = list(values)
    password = values.pop("password", None)
    if password is not None:
        check_password_policy(password, username=user["username"])
        values["password_hash"] = await hash_password(password)
        values["password_changed_at"] = now
    if "territories" in values:
        values["territories"] = list(dict.fromkeys(values["territories"]))
    if not await repo.update_user(session, user_id, expected_version=expected_version, values=values):
        raise PreconditionFailed("The user changed since you read it; read it again.")
    if values.get("active") is False or password is not None or "role" in values or "territories" in values:
        # Whatever a refresh token was issued for no longer holds: the next login picks up the new grants.
        await token_repo.revoke_user_tokens(session, user_id, at=now)
    await revocations.revoke_user_if_needed(session, user_id=user_id, changes=changes, now=now)
    if values.get("active") is False or password is not None:
        await token_repo.clear_throttle(session, "user:" + user["username"].lower())
    action = "user.deactivate" if values.get("active") is False else "user.update"
    await _audit(session, principal, action, "user", user_id, fields)
    return await repo.get_user(session, user_id)


async def unlock_user(session: AsyncSession, *, principal: Principal, user_id: uuid.UUID) -> None:
    """Lift a lockout on a user's login."""
    policy.require_user_manager(principal)
    user = await _load_visible_user(session, principal, user_id)
    policy.check_user_state(principal, _user_state(user))
    await token_repo.clear_throttle(session, "user:" + user["username"].lower())
    await _audit(session, principal, "user.unlock", "user", user_id)


# ---- machine clients ------------------------------------------------------------------------------------


async def create_client(session: AsyncSession, *, principal: Principal | None, name: str,
                        organization_id: uuid.UUID, scopes: Sequence[str], territories: Sequence[str],
                        now: datetime) -> tuple[Row, str]:
    """Create a machine client (admin); returns it with its secret, which is never shown again."""
    if principal is not None:
        policy.require_admin(principal)
    if await repo.get_organization(session, organization_id) is None:
        raise InvalidInput("The organisation does not exist.")
    policy.check_client_scopes(scopes)
    await _check_territories(session, territories)
    if principal is not None:
        policy.check_territory_grant(principal, territories)
    if await repo.find_client(session, organization_id=organization_id, name=name) is not None:
        raise Conflict("This organisation already has a client with this name.")
    client_id = uuid.uuid4()
    await repo.insert_client(session, {"id": client_id, "name": name, "organization_id": organization_id,
                                       "scopes": sorted(set(scopes)), "territories": list(dict.fromkeys(territories))})
    secret = new_secret()
    await repo.insert_client_secret(session, client_id=client_id, secret_hash=secret_digest(secret), created_at=now)
    await _audit(session, principal, "client.create", "client", client_id,
                 ("name", "organization_id", "scopes", "territories", "secret"),
                 actor=None if principal else "system:seed")
    client = await repo.get_client(session, client_id)
    return client, secret


async def get_client(session: AsyncSession, *, principal: Principal, client_id: uuid.UUID) -> Row:
    """A machine client (admin)."""
    policy.require_admin(principal)
    client = await repo.get_client(session, client_id)
    if client is None:
        raise NotFound("No such client.")
    return client


async def list_clients(session: AsyncSession, *, principal: Principal, organization_id: uuid.UUID | None,
                       cursor: str | None, limit: int) -> tuple[list[Row], str | None]:
    """A page of machine clients (admin)."""
    policy.require_admin(principal)
    rows = await repo.list_clients(session, organization_id=organization_id, after=_after_id(cursor),
                                   limit=limit + 1)
    return build_page(rows, limit, lambda r: [str(r["id"])])


async def update_client(session: AsyncSession, *, principal: Principal, client_id: uuid.UUID,
                        expected_version: int, changes: dict[str, Any], now: datetime) -> Row:
    """Change a client's name, scopes, territories or activity (admin; If-Match)."""
    client = await get_client(session, principal=principal, client_id=client_id)
    if client["version"] != expected_version:
        raise PreconditionFailed("The client changed since you read it; read it again.")
    if "scopes" in changes:
        policy.check_client_scopes(changes["scopes"])
        changes["scopes"] = sorted(set(changes["scopes"]))
    # The caller must cover the client as it is and as it will be.
    policy.check_territory_grant(principal, client["territories"])
    if "territories" in changes:
        await _check_territories(session, changes["territories"])
        policy.check_territory_grant(principal, changes["territories"])
    try:
        async with session.begin_nested():
            ok = await repo.update_client(session, client_id, expected_version=expected_version, values=changes)
    except IntegrityError as exc:
        raise _retry_conflict(exc, "The client") from exc
    if not ok:
        raise PreconditionFailed("The client changed since you read it; read it again.")
    await revocations.revoke_client_if_needed(session, client_id=client_id, changes=changes, now=now)
    action = "client.deactivate" if changes.get("active") is False else "client.update"
    await _audit(session, principal, action, "client", client_id, tuple(changes))
    return await repo.get_client(session, client_id)


async def rotate_client_secret(session: AsyncSession, *, principal: Principal, client_id: uuid.UUID,
                               overlap: timedelta, now: datetime) -> tuple[Row, str, datetime]:
    """Issue a new secret; the old ones keep working for `overlap` (0: stop at once). Returns the new secret
    and when the previous ones stop working."""
    client = await get_client(session, principal=principal, client_id=client_id)
    policy.check_territory_grant(principal, client["territories"])
    old_until = now + overlap
    await repo.expire_client_secrets(session, client_id=client_id, at=old_until)
    secret = new_secret()
    await repo.insert_client_secret(session, client_id=client_id, secret_hash=secret_digest(secret), created_at=now)
    await _audit(session, principal, "client.rotate_secret", "client", client_id, ("secret",))
    return client, secret, old_until


# ---- field teams ----------------------------------------------------------------------------------------


async def _team_view(session: AsyncSession, teams: Sequence[Row]) -> list[dict[str, Any]]:
    members = await repo.members_of(session, [t["id"] for t in teams])
    return [{**dict(t), "members": [dict(m) for m in members[t["id"]]]} for t in teams]


async def _check_team(session: AsyncSession, principal: Principal, *, territory_code: str,
                      member_ids: Sequence[uuid.UUID]) -> None:
    await _check_territories(session, [territory_code])
    if not policy.is_admin(principal) and not principal.covers(territory_code):
        raise NotFound("No such field team.")
    missing = set(member_ids) - await repo.existing_active_user_ids(session, member_ids)
    if missing:
        raise InvalidInput("Members must be active users: " + ", ".join(sorted(map(str, missing))) + ".")


def _require_team_manager(principal: Principal) -> None:
    if not (policy.is_admin(principal) or principal.role == Role.TEAM_COORDINATOR):
        raise Forbidden("Field teams are managed by administrators and team coordinators.")


async def create_field_team(session: AsyncSession, *, principal: Principal, territory_code: str, name: str,
                            member_ids: Sequence[uuid.UUID]) -> dict[str, Any]:
    """Create a prefecture's field team (admin, or a team coordinator within their territories)."""
    _require_team_manager(principal)
    await _check_team(session, principal, territory_code=territory_code, member_ids=member_ids)
    team_id = uuid.uuid4()
    try:
        async with session.begin_nested():
            await repo.insert_field_team(session, {"id": team_id, "territory_code": territory_code, "name": name})
    except IntegrityError as exc:
        raise Conflict("A field team with this name already exists in this territory.") from exc
    await repo.replace_members(session, team_id, member_ids)
    await _audit(session, principal, "field_team.create", "field_team", team_id, ("territory_code", "name", "members"))
    return await get_field_team(session, principal=principal, team_id=team_id)


async def get_field_team(session: AsyncSession, *, principal: Principal, team_id: uuid.UUID) -> dict[str, Any]:
    """A field team with its members (admin, anyone in its territory, or one of its members)."""
    team = await repo.get_field_team(session, team_id)
    if team is None:
        raise NotFound("No such field team.")
    view = (await _team_view(session, [team]))[0]
    is_member = any(m["user_id"] == principal.subject_id for m in view["members"])
    if not (policy.is_admin(principal) or principal.covers(team["territory_code"]) or is_member):
        raise NotFound("No such field team.")
    return view


async def list_field_teams(session: AsyncSession, *, principal: Principal, territory_code: str | None,
                           cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """A page of field teams: every one for national callers, else those in the caller's territories or
    of which the caller is a member."""
    national = policy.is_admin(principal) or principal.is_national
    rows = await repo.list_field_teams(
        session, territory_code=territory_code, visible_territories=None if national else principal.territories,
        member_id=principal.subject_id, after=_after_id(cursor), limit=limit + 1)
    page, next_cursor = build_page(rows, limit, lambda r: [str(r["id"])])
    return await _team_view(session, page), next_cursor


async def update_field_team(session: AsyncSession, *, principal: Principal, team_id: uuid.UUID,
                            expected_version: int, name: str | None,
                            member_ids: Sequence[uuid.UUID] | None) -> dict[str, Any]:
    """Rename a team or set its members (If-Match)."""
    _require_team_manager(principal)
    team = await repo.get_field_team(session, team_id)
    if team is None:
        raise NotFound("No such field team.")
    await _check_team(session, principal, territory_code=team["territory_code"], member_ids=member_ids or [])
    values = {"name": name} if name is not None else {}
    try:
        async with session.begin_nested():
            ok = await repo.update_field_team(session, team_id, expected_version=expected_version, values=values)
    except IntegrityError as exc:
        raise Conflict("A field team with this name already exists in this territory.") from exc
    if not ok:
        raise PreconditionFailed("The field team changed since you read it; read it again.")
    if member_ids is not None:
        await repo.replace_members(session, team_id, member_ids)
    fields = [f for f, v in (("name", name), ("members", member_ids)) if v is not None]
    await _audit(session, principal, "field_team.update", "field_team", team_id, fields)
    return await get_field_team(session, principal=principal, team_id=team_id)


# ---- the caller -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Me:
    """The caller as identity knows them."""

    principal: Principal
    organization: Row
    user: Row | None
    client: Row | None


async def describe_caller(session: AsyncSession, *, principal: Principal) -> Me:
    """The caller's user or client record and organisation."""
    user = client = None
    if principal.subject_type == "user":
        user = await repo.get_user(session, principal.subject_id)
        org_id = user["organization_id"] if user else None
    else:
        client = await repo.get_client(session, principal.subject_id)
        org_id = client["organization_id"] if client else None
    org = await repo.get_organization(session, org_id) if org_id else None
    if org is None:
        raise NotFound("The caller is not known to identity.")
    return Me(principal=principal, organization=org, user=user, client=client)
