"""The seed command: reference data, signing key, bootstrap admin and a city file, all idempotent."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from identity_service.seed import SeedReport, provision_city, read_city_file, seed_base
from identity_service.territories.service import read_territories

RABAT = Path(__file__).resolve().parents[1] / "examples" / "rabat.yaml"
COUNTS = ("territories", "courts", "organizations", "users", "api_clients", "client_secrets", "signing_keys")


async def counts(db) -> dict[str, int]:
    return {t: (await db.execute(sa.text(f"SELECT count(*) FROM identity.{t}"))).scalar() for t in COUNTS}


class TestSeed:
    async def test_base_seed_is_idempotent(self, tx, settings, harness, db):
        run = lambda c: seed_base(c, settings=settings, now=datetime.now(UTC))  # noqa: E731
        first = await tx(run)
        after_first = await counts(db)
        second = await tx(run)
        assert first.admin_created and first.signing_key is not None
        assert not second.admin_created and second.signing_key is None
        assert await counts(db) == after_first
        assert after_first["territories"] == len(read_territories())
        assert after_first["users"] == 1 and after_first["signing_keys"] == 1

    async def test_every_region_and_the_seven_plan_prefectures_are_loaded(self, seeded, db):
        regions = (await db.execute(sa.text("SELECT count(*) FROM identity.territories WHERE level = 'region'"))
                   ).scalar()
        plan = (await db.execute(sa.text("SELECT count(*) FROM identity.territories WHERE phase IS NOT NULL"))
                ).scalar()
        assert regions == 12 and plan == 7

    async def test_rabat_file_is_idempotent_and_prints_client_secrets_once(self, tx, seeded, db, client, login):
        data = read_city_file(RABAT)
        first, second = SeedReport(), SeedReport()
        await tx(lambda c: provision_city(c, data, now=datetime.now(UTC), report=first))
        after_first = await counts(db)
        await tx(lambda c: provision_city(c, data, now=datetime.now(UTC), report=second))
        assert await counts(db) == after_first
        assert len(first.client_secrets) == 1 and second.client_secrets == [] and second.created == []
        secret = first.client_secrets[0]
        token = await client.post("/v1/auth/token", data={"grant_type": "client_credentials",
                                                          "client_id": secret["client_id"],
                                                          "client_secret": secret["client_secret"]})
        assert token.status_code == 200
        assert (await login("rabat.prosecutor", "Dev-only-Rabat-prosecutor-1"))["access_token"]
