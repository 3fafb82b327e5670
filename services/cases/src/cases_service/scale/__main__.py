"""`python -m cases_service.scale N [--database-url URL]`: append N synthetic cases with COPY.

Into the database named by --database-url, or else by CASES_MIGRATION_DATABASE_URL (an owner of a database
whose cases schema is migrated), with the keys of CASES_FIELD_KEYS / CASES_BLIND_INDEX_KEY. `make
load-scale` provides all of them for the development database (`make run`'s, migrated first): it runs this
command through `python -m himaya_dev.devstack with-env`. Refuses to run when HIMAYA_ENV names a
production-like environment: this is test data.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import orjson

from cases_service.core.protection import Protector
from cases_service.core.reference import ReferenceData
from cases_service.scale.loader import load


def protector_from_env(env: dict[str, str]) -> Protector:
    """The cases service's field protector from its CASES_FIELD_KEYS / CASES_BLIND_INDEX_KEY variables."""
    keys = orjson.loads(env["CASES_FIELD_KEYS"])
    return Protector.from_settings(field_keys=keys, active_kid=env.get("CASES_FIELD_ACTIVE_KEY") or None,
                                   blind_index_key=env["CASES_BLIND_INDEX_KEY"])


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="cases_service.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", type=int, help="how many cases to add")
    parser.add_argument("--database-url", help="owner URL of the target database (default: "
                                                 "CASES_MIGRATION_DATABASE_URL)")
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args(argv)
    if os.environ.get("HIMAYA_ENV", "local") not in ("local", "test"):
        print("cases_service.scale loads synthetic data: refused outside HIMAYA_ENV=local/test", file=sys.stderr)
        return 2
    env = dict(os.environ)
    admin_url = args.database_url or env.get("CASES_MIGRATION_DATABASE_URL")
    missing = [name for name, value in (("--database-url or CASES_MIGRATION_DATABASE_URL", admin_url),
                                        ("CASES_FIELD_KEYS", env.get("CASES_FIELD_KEYS")),
                                        ("CASES_BLIND_INDEX_KEY", env.get("CASES_BLIND_INDEX_KEY"))) if not value]
    if missing or admin_url is None:
        print(f"cases_service.scale needs {', '.join(missing)}. On a development checkout run `make load-scale "
              "N=…`, which sets them for the development database.", file=sys.stderr)
        return 2
    report = asyncio.run(load(admin_url=admin_url, cases=args.cases, protector=protector_from_env(env),
                              reference=ReferenceData.load(), batch_size=args.batch, seed=args.seed,
                              progress=lambda msg: print(msg, flush=True)))
    print(f"\nloaded {report.cases:,} cases in {report.total_seconds} s ({report.seconds})")
    for table, count in report.rows.items():
        print(f"  {table:<20}{count:>12,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
