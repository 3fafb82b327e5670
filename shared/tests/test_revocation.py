"""The verifiers' deny-list: what an entry refuses, how the feed is merged, and what happens when it fails."""

import time
import uuid
from typing import Any

import pytest

from himaya.auth import JWKSCache, TokenVerifier
from himaya.errors import ServiceUnavailable, Unauthorized
from himaya.revocation import RevocationList, RevocationSync, refresh
from himaya_dev.testing.plugin import AUDIENCE, ISSUER, TokenFactory


@pytest.fixture(scope="module")
def factory() -> TokenFactory:
    return TokenFactory.generate()


def synced(**kwargs: Any) -> RevocationList:
    revocations = RevocationList(**kwargs)
    revocations.mark_synced()
    return revocations


def verifier(factory: TokenFactory, revocations: RevocationList) -> TokenVerifier:
    return TokenVerifier(JWKSCache.static(factory.jwks), issuer=ISSUER, audience=AUDIENCE, revocations=revocations)


def later(seconds: float = 600) -> float:
    return time.time() + seconds


class TestSubjectEntries:
    async def test_tokens_before_the_change_are_refused_and_after_it_accepted(self, factory):
        revocations = synced()
        v = verifier(factory, revocations)
        subject = uuid.uuid4()
        old, new = factory.token(sub=subject, sub_ver=2), factory.token(sub=subject, sub_ver=3)
        other = factory.token(sub=uuid.uuid4(), sub_ver=1)
        assert (await v.verify(old)).subject_id == subject  # remembered by the verifier's cache
        revocations.apply({"cursor": 7, "entries": [
            {"subject": f"user:{subject}", "min_version": 3, "expires_at": later()}]})
        with pytest.raises(Unauthorized, match="revoked"):
            await v.verify(old)
        assert (await v.verify(new)).subject_id == subject
        assert (await v.verify(other)).role == "admin"
        assert revocations.cursor == 7

    async def test_a_token_without_a_version_is_refused_once_its_subject_is_revoked(self, factory):
        revocations = synced()
        subject = uuid.uuid4()
        revocations.apply({"cursor": 1, "entries": [
            {"subject": f"client:{subject}", "min_version": 1, "expires_at": later()}]})
        with pytest.raises(Unauthorized):
            await verifier(factory, revocations).verify(factory.token(sub=subject, sub_type="client"))

    def test_the_highest_version_wins_and_an_older_entry_never_lowers_it(self):
        revocations = synced()
        revocations.apply({"cursor": 2, "entries": [
            {"subject": "user:a", "min_version": 5, "expires_at": later()},
            {"subject": "user:a", "min_version": 3, "expires_at": later()}]})
        assert revocations.subjects["user:a"][0] == 5


class TestKeyEntries:
    async def test_a_retired_key_signs_no_more(self, factory):
        revocations = synced()
        v = verifier(factory, revocations)
        now = int(time.time())
        revocations.apply({"cursor": 1, "entries": [
            {"kid": factory.kid, "issued_after": now - 60, "expires_at": later()}]})
        assert (await v.verify(factory.token(iat=now - 120))).role == "admin"
        with pytest.raises(Unauthorized, match="signing key"):
            await v.verify(factory.token())

    async def test_a_withdrawn_key_is_forgotten_and_every_token_refused(self, factory):
        revocations = synced()
        v = verifier(factory, revocations)
        token = factory.token()
        await v.verify(token)
        generation = revocations.generation
        revocations.apply({"cursor": 1, "entries": [{"kid": factory.kid, "expires_at": later()}]})
        assert revocations.generation > generation
        assert not v.jwks.knows(factory.kid)
        with pytest.raises(Unauthorized, match="signing key"):
            await v.verify(token)
        # A later retirement entry cannot narrow a withdrawal back.
        revocations.apply({"cursor": 2, "entries": [
            {"kid": factory.kid, "issued_after": time.time(), "expires_at": later()}]})
        assert revocations.withdrawn(factory.kid)


class TestFeed:
    async def test_pages_are_read_until_the_last_and_a_reset_replaces_the_list(self):
        pages = {None: {"cursor": 2, "reset": True, "more": True, "entries": [
                    {"subject": "user:a", "min_version": 2, "expires_at": later()}]},
                 2: {"cursor": 3, "more": False, "entries": [
                    {"subject": "user:b", "min_version": 1, "expires_at": later()}]}}
        asked: list[int | None] = []

        async def fetch(after: int | None) -> dict[str, Any]:
            asked.append(after)
            return pages[after]

        revocations = RevocationList()
        revocations.subjects["user:stale"] = (9, later())
        await refresh(revocations, fetch)
        assert asked == [None, 2]
        assert set(revocations.subjects) == {"user:a", "user:b"} and revocations.cursor == 3
        assert revocations.synced_at is not None

    def test_entries_past_their_use_are_dropped(self):
        revocations = RevocationList()
        revocations.apply({"cursor": 1, "entries": [
            {"subject": "user:gone", "min_version": 1, "expires_at": time.time() - 1},
            {"kid": "k-gone", "expires_at": "2020-01-01T00:00:00+00:00"},
            {"subject": "user:kept", "min_version": 1, "expires_at": later()}]})
        revocations.mark_synced()
        assert set(revocations.subjects) == {"user:kept"} and not revocations.keys


class TestFailure:
    async def test_an_unreachable_identity_keeps_the_last_list(self, factory):
        revocations = synced()
        revocations.apply({"cursor": 4, "entries": [{"subject": "user:x", "min_version": 2, "expires_at": later()}]})

        async def down(after: int | None) -> dict[str, Any]:
            raise ConnectionError("identity is down")

        sync = RevocationSync(revocations, down, interval=60)
        assert await sync.refresh_once() is False
        assert revocations.failures == 1 and "user:x" in revocations.subjects and revocations.cursor == 4

    async def test_a_list_older_than_the_bound_refuses_every_token_with_503(self, factory):
        revocations = synced(max_staleness_seconds=30)
        v = verifier(factory, revocations)
        token = factory.token()
        await v.verify(token)
        assert revocations.synced_at is not None
        revocations.synced_at -= 31
        with pytest.raises(ServiceUnavailable):
            await v.verify(token)
        revocations.mark_synced()
        assert (await v.verify(token)).role == "admin"

    async def test_a_list_never_read_is_stale_after_the_bound_from_start(self, factory):
        revocations = RevocationList(max_staleness_seconds=30)
        assert (await verifier(factory, revocations).verify(factory.token())).role == "admin"
        revocations.started_at -= 31
        with pytest.raises(ServiceUnavailable):
            await verifier(factory, revocations).verify(factory.token())
