"""`python -m cases_service.demo`: load the demo dataset into the cases database (once).

Reads the cases service's own settings (CASES_DATABASE_URL, CASES_FIELD_KEYS, CASES_BLIND_INDEX_KEY…) on a
migrated schema. `make demo` provides them for the development database: it runs this command through
`python -m himaya_dev.devstack with-env`, which migrates that database first.
"""

from __future__ import annotations

import asyncio
import sys

from cases_service.config import Settings
from cases_service.core.protection import Protector
from cases_service.core.reference import ReferenceData
from cases_service.demo.loader import load
from himaya.db import create_database

NOT_CONFIGURED = ("CASES_DATABASE_URL is not set: this command loads the demo dataset with the cases service's "
                  "settings. On a development checkout run `make demo`, which sets them for the development "
                  "database; elsewhere set CASES_DATABASE_URL, CASES_FIELD_KEYS and CASES_BLIND_INDEX_KEY.")


async def main(settings: Settings) -> int:
    """Load the dataset in one transaction and say what happened."""
    if settings.database_url is None:
        print(NOT_CONFIGURED, file=sys.stderr)
        return 2
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
    raise SystemExit(asyncio.run(main(Settings())))
