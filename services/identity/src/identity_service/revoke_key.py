"""Emergency revocation of a signing key from the command line: `python -m identity_service.revoke_key <kid>`.

The same operation as `POST /v1/signing-keys/{kid}/revoke`, for when no national administrator can log in
or identity's API is not reachable: the key leaves the JWKS at once, every service refuses the tokens it
signed within seconds (they poll identity's revocations), and a new key signs at once. Audited as
`system:keys`. Without a kid, lists the published keys and their states.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from himaya import clock
from himaya.errors import DomainError
from identity_service.config import Settings
from identity_service.core.context import Context
from identity_service.core.crypto import KeyEncryption
from identity_service.keys import service as keys
from identity_service.keys.records import KeyState


async def run(settings: Settings, kid: str | None) -> list[KeyState]:
    """Withdraw `kid` (or only read the keys' states) in one transaction; returns the states after."""
    engine = create_async_engine(settings.dsn)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session, session.begin():
            now = clock.now()
            ctx = Context(session=session, principal=None, encryption=KeyEncryption(settings.kek))
            if kid is None:
                return await keys.key_states(ctx, now=now)
            return await keys.revoke_signing_key(ctx, kid=kid, now=now,
                                                 access_ttl=timedelta(seconds=settings.access_token_ttl))
    finally:
        await engine.dispose()


def main(argv: Sequence[str]) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="identity_service.revoke_key", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kid", nargs="?", help="the key id to withdraw (omit to list the keys)")
    args = parser.parse_args(argv)
    try:
        states = asyncio.run(run(Settings(), args.kid))
    except DomainError as exc:
        print(f"revoke_key refused: {exc.detail or exc.title}", file=sys.stderr)
        return 1
    if args.kid is not None:
        print(f"signing key {args.kid} revoked; every service refuses its tokens within seconds")
    for state in states:
        print(f"  {state.kid}  {state.state}  activates {state.activates_at.isoformat()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
