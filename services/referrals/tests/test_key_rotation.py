"""Rotating the referrals' field key (`python -m referrals_service.rotate_keys`): every sealed value, the
outbox's included, moves to the new key and reads back; a request updating a row while the rotation runs is
not overwritten by the re-sealed older value (rows are locked, himaya.rotation)."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from himaya.crypto import FieldCipher
from himaya.settings import to_asyncpg_url
from referrals_service.core.tables import SCHEMA
from referrals_service.rotate_keys import rotate_field_keys

from .conftest import FIELD_KEYS

NEW_KEYS = {**FIELD_KEYS, "k2": "test-referrals-field-key-two-" + uuid.uuid4().hex}
ROTATED = FieldCipher.from_secrets(NEW_KEYS, "k2")
BACK = FieldCipher.from_secrets(NEW_KEYS, "k1")


@pytest.fixture
async def live(harness):
    async with harness.client() as c:
        yield c


@pytest.fixture
async def owner(harness):
    """The schema owner's engine (the rotation command's connection), rotated back to k1 afterwards so the
    running app (which knows k1 only) keeps reading what other tests left."""
    engine = create_async_engine(to_asyncpg_url(harness.admin_url))
    try:
        yield engine
    finally:
        await rotate_field_keys(engine=engine, cipher=BACK)
        await engine.dispose()


async def prosecution_flow(live, actors, reason):
    police, office = actors.police(), actors.prosecution_system()
    made = await live.post("/v1/referrals", headers=police, json={
        "case_id": str(actors.fake.add_case()), "target_organization_id": str(actors.prosecution_org),
        "kind": "prosecution", "reason": reason, "urgency": "urgent"})
    assert made.status_code == 201, made.text
    rid = made.json()["id"]
    assert (await live.post(f"/v1/referrals/{rid}/acknowledge", json={"external_reference": "PR-ROT-1"},
                            headers=office)).status_code == 200
    decided = await live.post(f"/v1/referrals/{rid}/decisions", headers=office | {"Idempotency-Key": f"rot-{rid}"},
                              json={"type": "emergency_placement", "concerns": "child",
                                    "legal_basis": "Basis-rotation art. 512", "notes": "Notes-rotation",
                                    "decided_at": datetime.now(UTC).isoformat()})
    assert decided.status_code == 201, decided.text
    return rid


async def kids(engine, rid):
    """The key id of every sealed value of one referral, its history, decisions and outbox events."""
    async with engine.connect() as conn:
        blobs = (await conn.execute(sa.text(
            f'SELECT reason_enc FROM "{SCHEMA}".referrals WHERE id = :id '
            f'UNION ALL SELECT legal_basis_enc FROM "{SCHEMA}".prosecutor_decisions WHERE referral_id = :id '
            f'UNION ALL SELECT note_enc FROM "{SCHEMA}".referral_history '
            f'WHERE referral_id = :id AND note_enc IS NOT NULL '
            f"UNION ALL SELECT decode(payload->>'sealed', 'base64') FROM \"{SCHEMA}\".outbox_events "
            f"WHERE aggregate_id = :id AND payload ? 'sealed'"), {"id": uuid.UUID(rid)})).scalars().all()
    return [ROTATED.key_id(b) for b in blobs]


class TestRotation:
    async def test_rotation_reseals_everything_and_it_reads_back(self, live, actors, harness, owner):
        rid = await prosecution_flow(live, actors, "Reason-rotation girl at the lights")
        assert set(await kids(owner, rid)) == {"k1"}
        counts = await rotate_field_keys(engine=owner, cipher=ROTATED, batch=2)
        assert {"referrals", "referral_history", "prosecutor_decisions", "outbox_events"} <= set(counts)
        found = await kids(owner, rid)
        assert len(found) >= 5 and set(found) == {"k2"}
        assert await rotate_field_keys(engine=owner, cipher=ROTATED) == {}
        app = harness.app
        previous = app.state.field_cipher
        app.state.field_cipher = FieldCipher.from_secrets({"k2": NEW_KEYS["k2"]}, "k2")
        try:
            read = (await live.get(f"/v1/referrals/{rid}", headers=actors.police())).json()
        finally:
            app.state.field_cipher = previous
        assert read["reason"] == "Reason-rotation girl at the lights"
        assert read["decisions"][0]["legal_basis"] == "Basis-rotation art. 512"

    async def test_a_concurrent_update_of_a_row_being_rotated_is_not_lost(self, live, actors, owner):
        rid = await prosecution_flow(live, actors, "Reason-before the update")
        newer = ROTATED.encrypt("Reason-written during the rotation", table="referrals", column="reason",
                                row_id=rid)
        async with owner.connect() as writer:
            transaction = await writer.begin()
            await writer.execute(sa.text(f'UPDATE "{SCHEMA}".referrals SET reason_enc = :b WHERE id = :id'),
                                 {"b": newer, "id": uuid.UUID(rid)})
            rotation = asyncio.create_task(rotate_field_keys(engine=owner, cipher=ROTATED, batch=1000))
            async with owner.connect() as watcher:  # wait until the rotation queues behind the writer's row lock
                for _ in range(600):
                    waiting = (await watcher.execute(sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()"))).scalar_one()
                    await watcher.rollback()  # the activity view is a snapshot per transaction
                    if waiting or rotation.done():
                        break
                    await asyncio.sleep(0.05)
            assert not rotation.done() and waiting
            await transaction.commit()
        await rotation
        async with owner.connect() as conn:
            blob = (await conn.execute(sa.text(f'SELECT reason_enc FROM "{SCHEMA}".referrals WHERE id = :id'),
                                       {"id": uuid.UUID(rid)})).scalar_one()
        assert ROTATED.decrypt(blob, table="referrals", column="reason", row_id=rid) == \
            "Reason-written during the rotation"
