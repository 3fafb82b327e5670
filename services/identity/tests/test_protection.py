"""Lockout per username, throttling per source address, and the audit trail of logins."""

from __future__ import annotations

import sqlalchemy as sa

from identity_service.core.tables import audit_events

ADMIN_PASSWORD = "bootstrap-Root-pass-2026"


async def attempt(client, username, password, ip):
    return await client.post("/v1/auth/token", data={"grant_type": "password", "username": username,
                                                     "password": password}, headers={"X-Forwarded-For": ip})


class TestLockout:
    async def test_five_failures_lock_the_user_even_with_the_right_password(self, client, seeded):
        for i in range(5):
            response = await attempt(client, "admin", "wrong-password-xyz", f"203.0.113.{i + 1}")
            assert response.status_code == 401
        locked = await attempt(client, "admin", ADMIN_PASSWORD, "203.0.113.99")
        assert locked.status_code == 429
        assert locked.headers["content-type"].startswith("application/problem+json")
        assert locked.json()["code"] == "too_many_requests"
        assert 1 <= int(locked.headers["retry-after"]) <= 901

    async def test_success_before_the_threshold_resets_the_count(self, client, seeded):
        for _ in range(4):
            await attempt(client, "admin", "wrong-password-xyz", "203.0.113.1")
        assert (await attempt(client, "admin", ADMIN_PASSWORD, "203.0.113.1")).status_code == 200
        for _ in range(4):
            await attempt(client, "admin", "wrong-password-xyz", "203.0.113.1")
        assert (await attempt(client, "admin", ADMIN_PASSWORD, "203.0.113.1")).status_code == 200

    async def test_unknown_usernames_lock_too_so_existence_does_not_leak(self, client, seeded):
        for _ in range(5):
            await attempt(client, "ghost-user", "wrong-password-xyz", "203.0.113.7")
        assert (await attempt(client, "ghost-user", "wrong-password-xyz", "203.0.113.8")).status_code == 429

    async def test_admin_unlocks_a_locked_user(self, client, admin, as_user):
        user, _, _ = await as_user("police_officer", "police")
        for _ in range(5):
            await attempt(client, user["username"], "wrong-password-xyz", "203.0.113.20")
        assert (await attempt(client, user["username"], "Sufficiently-long-9", "203.0.113.21")).status_code == 429
        assert (await client.post(f"/v1/users/{user['id']}/unlock", headers=admin)).status_code == 204
        assert (await attempt(client, user["username"], "Sufficiently-long-9", "203.0.113.21")).status_code == 200


class TestSourceThrottling:
    async def test_many_failures_from_one_source_are_throttled(self, client, seeded):
        ip = "192.0.2.50"
        statuses = [(await attempt(client, f"user{i}", "wrong-password-xyz", ip)).status_code for i in range(12)]
        assert statuses == [401] * 12
        blocked = await attempt(client, "admin", ADMIN_PASSWORD, ip)
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
        # Another source is not affected.
        assert (await attempt(client, "admin", ADMIN_PASSWORD, "192.0.2.51")).status_code == 200

    async def test_forwarded_for_is_ignored_from_untrusted_peers(self, harness, seeded):
        import httpx

        transport = httpx.ASGITransport(app=harness.app, client=("10.9.9.9", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as outsider:
            for i in range(12):
                await attempt(outsider, f"user{i}", "wrong-password-xyz", f"192.0.2.{i}")
            # Spoofed X-Forwarded-For values did not spread the failures: the real peer is blocked.
            assert (await attempt(outsider, "admin", ADMIN_PASSWORD, "192.0.2.200")).status_code == 429


class TestLoginAudit:
    async def test_login_failure_and_token_issue_are_audited(self, client, seeded, db):
        await attempt(client, "admin", "wrong-password-xyz", "198.51.100.9")
        await attempt(client, "admin", ADMIN_PASSWORD, "198.51.100.9")
        rows = (await db.execute(sa.select(audit_events.c.action, audit_events.c.outcome, audit_events.c.source_ip)
                                 .order_by(audit_events.c.id))).all()
        events = [(r.action, r.outcome) for r in rows]
        assert ("login", "failure") in events
        assert ("login", "success") in events
        assert ("token.issue", "password") in events
        assert {r.source_ip for r in rows if r.action == "login"} == {"198.51.100.9"}

    async def test_admin_changes_are_audited(self, client, admin, db):
        response = await client.post("/v1/organizations", headers=admin, json={
            "name": "Délégation EN Rabat", "type": "entraide_nationale", "territory_code": "04.421"})
        assert response.status_code == 201
        row = (await db.execute(sa.select(audit_events).where(audit_events.c.action == "organization.create",
                                                              audit_events.c.object_id == response.json()["id"])
                                )).mappings().one()
        assert row["actor"].startswith("user:")
