"""`python -m cases_service.scale N [--database-url URL]`: append N synthetic cases with COPY.

By default into the development database (`make run`'s, migrated first if needed), with the keys the
services run with there; with --database-url (a superuser URL of a database whose cases schema is
migrated) and CASES_FIELD_KEYS / CASES_BLIND_INDEX_KEY in the environment, into any other. Refuses to run
when HIMAYA_ENV names a production-like environment: this is test data.
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


def _protector(env: dict[str, str]) -> Protector:
    keys = orjson.loads(env["CASES_FIELD_KEYS"])
    return Protector.from_settings(field_keys=keys, active_kid=env.get("CASES_FIELD_ACTIVE_KEY") or None,
                                   blind_index_key=env["CASES_BLIND_INDEX_KEY"])


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="cases_service.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", type=int, help="how many cases to add")
    parser.add_argument("--database-url", help="superuser URL of the target database (default: the dev database)")
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args(argv)
    if os.environ.get("HIMAYA_ENV", "local") not in ("local", "test"):
        print("cases_service.scale loads synthetic data: refused outside HIMAYA_ENV=local/test", file=sys.stderr)
        return 2
    env = dict(os.environ)
    if args.database_url:
        admin_url = args.database_url
    else:
        from himaya import devstack

        admin_url, _ = devstack.admin_database_url()
        devstack.ensure_database(admin_url)
        config = devstack.StackConfig(admin_url=admin_url)
        devstack.migrate(config, skip_current=True)
        env = config.env()  # the keys `make run` gives the cases service
    report = asyncio.run(load(admin_url=admin_url, cases=args.cases, protector=_protector(env),
                              reference=ReferenceData.load(), batch_size=args.batch, seed=args.seed,
                              progress=lambda msg: print(msg, flush=True)))
    print(f"\nloaded {report.cases:,} cases in {report.total_seconds} s ({report.seconds})")
    for table, count in report.rows.items():
        print(f"  {table:<20}{count:>12,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
