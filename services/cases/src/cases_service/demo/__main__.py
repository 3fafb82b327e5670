"""`python -m cases_service.demo`: load the demo dataset into the cases database (once).

With CASES_DATABASE_URL and the cases secrets in the environment it uses them; otherwise it uses the
development stack's database and secrets (the embedded PostgreSQL of `make run`), migrating it first.
"""

from __future__ import annotations

import asyncio
import os
import sys

from cases_service.config import Settings
from cases_service.core.protection import Protector
from cases_service.core.reference import ReferenceData
from cases_service.demo.loader import load
from himaya.db import create_database


def _settings() -> Settings:
    if not os.environ.get("CASES_DATABASE_URL"):
        from himaya import devstack

        admin_url, _ = devstack.admin_database_url()
        devstack.ensure_database(admin_url)
        config = devstack.StackConfig(admin_url=admin_url)
        devstack.migrate(config, skip_current=True)
        os.environ.update({k: v for k, v in config.env().items() if k.startswith("CASES_") or k == "HIMAYA_ENV"})
    return Settings()


async def main(settings: Settings) -> int:
    """Load the dataset in one transaction and say what happened."""
    keys = settings.field_key_map()
    index_key = settings.blind_index_key.get_secret_value() if settings.blind_index_key else ""
    if not keys or not index_key:
        print("CASES_FIELD_KEYS and CASES_BLIND_INDEX_KEY are required.", file=sys.stderr)
        return 2
    protector = Protector.from_settings(field_keys=keys, active_kid=settings.field_active_key,
                                        blind_index_key=index_key)
    db = create_database(settings, application_name="himaya-cases-demo")
    try:
        async with db.sessionmaker() as session, session.begin():
            result = await load(session=session, protector=protector, reference=ReferenceData.load())
    finally:
        await db.dispose()
    if result.loaded:
        print(f"Demo dataset loaded: {result.intakes} intakes, {result.cases} cases ({result.repeat_cases} repeat "
              f"cases), {result.follow_ups} follow-up visits.")
    else:
        print("Demo dataset already loaded: nothing to do.")
    return 0


if __name__ == "__main__":
    # Settings first: preparing the development database runs its own event loops (asyncio.run), which
    # cannot nest inside the demo's.
    raise SystemExit(asyncio.run(main(_settings())))
