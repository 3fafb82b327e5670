"""The statistics' facts and counts cube are kept by triggers in the writing transactions: after a random
sequence of writes (intakes, repeat intakes, transitions, transfers, corrections of a child, of an intake's
date, a case moved to another child) they equal a recomputation from scratch, and the summary summed from the
cube equals the same counts made distinct over the facts, for every grouping and kind of period (with the sum of
the cases' record keys, from which the disclosure control derives each cell's key)."""

import random
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.stats import repository as q
from cases_service.stats import service as domain

COMMUNES = ("04.421.01", "04.421.02", "04.441.01", "07.351.01")
TRANSFER_TO = {"04.421": "04.441.01", "04.441": "07.351.01", "07.351": "04.421.01"}
FACTS = "SELECT * FROM cases.stats_case_facts ORDER BY case_id"
CELLS = """SELECT month, region_code, prefecture_code, commune_code, sex, age_group, sum(cases) AS cases,
                  sum(children) AS children, sum(i_all) AS i_all, sum(i_sex) AS i_sex, sum(i_pilot) AS i_pilot,
                  sum(i_sex_pilot) AS i_sex_pilot, sum(i_marrakech) AS i_marrakech,
                  sum(i_sex_marrakech) AS i_sex_marrakech, sum(key_sum) AS key_sum
             FROM cases.stats_cells GROUP BY 1, 2, 3, 4, 5, 6
           HAVING sum(cases) <> 0 OR sum(children) <> 0 OR sum(i_all) <> 0 ORDER BY 1, 2, 3, 4, 5, 6"""
GROUPINGS = [((), "prefecture", "pilot"), (("territory",), "prefecture", "pilot"), (("sex",), "region", "pilot"),
             (("age_band",), "prefecture", "pilot"), (("territory", "sex", "age_band"), "prefecture", "marrakech"),
             (("month", "sex"), "commune", "pilot"), (("phase", "age_band"), "region", "marrakech"),
             (("territory", "age_band", "sex", "month"), "commune", "pilot")]
PERIODS = [(None, None), (date(2020, 1, 1), date(2020, 12, 31)), (date(2020, 1, 15), date(2020, 6, 10)),
           (date(2020, 3, 5), date(2020, 3, 20)), (None, date(2020, 8, 17)), (date(2020, 9, 2), None)]


class World:
    """A random sequence of writes through the API (and, for corrections no route makes yet, as the owner)."""

    def __init__(self, client, as_, rng):
        self.client, self.rng = client, rng
        self.manager = as_("case_manager", territories=["MA"])
        self.cases: dict[str, dict] = {}  # case id -> {"child": id, "status": ..., "prefecture": ...}

    def child(self):
        out = {"first_name": "Qux" + "".join(self.rng.choice("vbpqzx") for _ in range(5)),
               "sex": self.rng.choice(("female", "male"))}
        if self.rng.random() < 0.4:
            out["birth_date"] = (date(2020, 6, 1) - timedelta(days=self.rng.randrange(0, 19 * 365))).isoformat()
        else:
            out["estimated_age_years"] = self.rng.choice((0.5, 1, 3, 4, 5, 6, 9, 13, 14, 17, 18))
        return out

    async def intake(self):
        commune = self.rng.choice(COMMUNES)
        day = date(2020, 1, 1) + timedelta(days=self.rng.randrange(0, 400))
        closed = [c for c in self.cases.values() if c["status"] in ("closed_not_in_scope", "transferred_out")
                  and not any(o["child"] == c["child"] and o["status"] not in ("closed_not_in_scope",
                                                                               "transferred_out")
                              for o in self.cases.values())]
        kids = [self.child() for _ in range(self.rng.choice((1, 1, 2, 3)))]
        if closed and self.rng.random() < 0.5:
            kids[0] = {"child_id": self.rng.choice(closed)["child"]}  # a repeat case
        r = await self.client.post("/v1/intakes", headers=self.manager, json={
            "reported_at": f"{day.isoformat()}T{self.rng.choice(('10', '23'))}:30:00Z", "source": "field_patrol",
            "commune_code": commune, "place_type": "traffic_light", "night": self.rng.random() < 0.5,
            "exploitation_pattern": "with_adult", "children": kids, "adults": []})
        assert r.status_code == 201, r.text
        for case in r.json()["cases"]:
            self.cases[str(case["id"])] = {"child": case["child_id"], "status": "reported",
                                           "prefecture": commune[:6]}

    async def move(self, to, **body):
        wanted = {"screened": ("reported",), "closed_not_in_scope": ("screened",),
                  "transferred_out": ("reported", "screened")}[to]
        candidates = [k for k, c in self.cases.items() if c["status"] in wanted]
        if not candidates:
            return
        case_id = self.rng.choice(candidates)
        if to == "transferred_out":
            body["commune_code"] = TRANSFER_TO[self.cases[case_id]["prefecture"]]
        r = await self.client.post(f"/v1/cases/{case_id}/transitions", headers=self.manager,
                                   json={"to": to, **body})
        assert r.status_code == 200, r.text
        self.cases[case_id]["status"] = to
        if r.json().get("opened_case_id"):
            self.cases[r.json()["opened_case_id"]] = {"child": self.cases[case_id]["child"], "status": "reported",
                                                      "prefecture": body["commune_code"][:6]}

    async def owner(self, sql, **params):
        async with self.client.admin.begin() as conn:
            await conn.execute(sa.text(sql), params)

    async def step(self):
        op = self.rng.choices(("intake", "screen", "close", "transfer", "child", "intake_date", "reassign"),
                              weights=(8, 4, 3, 2, 2, 1, 1))[0]
        if op == "intake" or not self.cases:
            await self.intake()
        elif op == "screen":
            await self.move("screened")
        elif op == "close":
            await self.move("closed_not_in_scope", reason="Not in scope (test)")
        elif op == "transfer":
            await self.move("transferred_out", reason="Family moved (test)")
        elif op == "child":  # a correction of the child's sex and age
            child = self.rng.choice(list(self.cases.values()))["child"]
            await self.owner("UPDATE cases.children SET sex = :sex, estimated_age_years = :age, birth_date = NULL "
                             "WHERE id = :id", sex=self.rng.choice(("female", "male")),
                             age=self.rng.choice((0.5, 4, 5, 13, 17)), id=child)
        elif op == "intake_date":  # a correction of the encounter's date (moves it to another month)
            case_id = self.rng.choice(list(self.cases))
            await self.owner("UPDATE cases.intakes SET reported_at = reported_at - make_interval(days => :d) "
                             "WHERE id = (SELECT intake_id FROM cases.cases WHERE id = :id)",
                             d=self.rng.randrange(1, 60), id=case_id)
        else:  # a closed case found to be another (closed) child's, as a duplicate merge does
            closed = [k for k, c in self.cases.items() if c["status"] == "closed_not_in_scope"]
            if len(closed) >= 2:
                moved, target = self.rng.sample(closed, 2)
                await self.owner("UPDATE cases.cases SET child_id = :child WHERE id = :id",
                                 child=self.cases[target]["child"], id=moved)
                self.cases[moved]["child"] = self.cases[target]["child"]


async def snapshot(conn):
    return ([tuple(r) for r in (await conn.execute(sa.text(FACTS))).all()],
            [tuple(r) for r in (await conn.execute(sa.text(CELLS))).all()])


async def from_scratch(admin):
    """The facts and cube recomputed from the base tables (in a transaction rolled back afterwards)."""
    async with admin.connect() as conn:
        tx = await conn.begin()
        await conn.execute(sa.text("SELECT cases.stats_rebuild()"))
        out = await snapshot(conn)
        await tx.rollback()
    return out


def by_keys(rows, names):
    return {(tuple(str(r[n]) for n in names), bool(r["is_total"])):
            (int(r["children"]), int(r["cases"]), int(r["intakes"]), int(r["key_sum"])) for r in rows}


async def assert_cube_equals_facts(engine):
    phases = domain.phases()
    async with AsyncSession(engine) as session:
        for names, level, scheme in GROUPINGS:
            for period_from, period_to in PERIODS:
                scope = q.CaseScope(("MA",), period_from, period_to, None)
                dims = [(n, q.dimension(n, territory_level=level, age_scheme=scheme, phases=phases)) for n in names]
                slow = await q.summary_rows(session, dimensions=dims, filters=scope.where())
                fast = await q.cube_summary_rows(session, names=names, territory_level=level, age_scheme=scheme,
                                                 phases=phases, scope=scope)
                want = {k: v for k, v in by_keys(slow, names).items() if v[1] or k[1]}
                assert by_keys(fast, names) == want, (names, level, scheme, period_from, period_to)


@pytest.mark.parametrize("seed", [1, 2])
class TestIncrementalMaintenance:
    async def test_after_random_writes_the_facts_equal_a_recomputation_and_the_cube_the_facts(
            self, committed, as_, harness, seed):
        world = World(committed, as_, random.Random(seed))
        for _ in range(45):
            await world.step()
        assert len(world.cases) >= 20
        incremental = await snapshot_of(committed.admin)
        assert incremental == await from_scratch(committed.admin)
        kinds = {(r[19], r[20]) for r in incremental[0]}  # child_simple, intake_simple
        assert (True, True) in kinds and len(kinds) > 1  # the sequence made repeat children or transfers
        await assert_cube_equals_facts(harness.engine)


async def snapshot_of(admin):
    async with admin.connect() as conn:
        return await snapshot(conn)


class TestCompaction:
    async def test_the_journal_merged_into_one_row_per_cell_gives_the_same_summary(
            self, committed, as_, harness, monkeypatch):
        world = World(committed, as_, random.Random(3))
        for _ in range(20):
            await world.step()
        headers = as_("team_coordinator", territories=["MA"])
        params = {"group_by": ["territory", "sex", "age_band"]}
        before = (await committed.get("/v1/stats/summary", params=params, headers=headers)).json()
        journal = (await snapshot_of(committed.admin))[1]
        monkeypatch.setattr(q, "COMPACT_AFTER", 0)
        after = (await committed.get("/v1/stats/summary", params=params, headers=headers)).json()
        assert after["cells"] == before["cells"] and after["total"] == before["total"]
        async with committed.admin.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT count(*) FROM cases.stats_cells"))).scalar_one()
            mark = (await conn.execute(sa.text("SELECT compacted_through FROM cases.stats_cells_meta"))).scalar_one()
            biggest = (await conn.execute(sa.text("SELECT max(id) FROM cases.stats_cells"))).scalar_one()
        assert rows == len(journal) and mark == biggest
        assert (await snapshot_of(committed.admin))[1] == journal


class TestPeriodSplit:
    def test_whole_months_from_the_cube_and_partial_edges_from_the_facts(self):
        assert q.split_period(None, None) == ((None, None), [])
        assert q.split_period(date(2020, 1, 1), date(2020, 12, 31)) == ((date(2020, 1, 1), date(2020, 12, 1)), [])
        assert q.split_period(date(2020, 1, 15), date(2020, 3, 10)) == (
            (date(2020, 2, 1), date(2020, 2, 1)), [(date(2020, 1, 15), date(2020, 1, 31)),
                                                   (date(2020, 3, 1), date(2020, 3, 10))])
        assert q.split_period(date(2020, 1, 15), date(2020, 2, 10)) == (None, [(date(2020, 1, 15), date(2020, 2, 10))])
        assert q.split_period(date(2019, 12, 4), None) == ((date(2020, 1, 1), None),
                                                           [(date(2019, 12, 4), date(2019, 12, 31))])
        assert q.split_period(None, date(2020, 2, 29)) == ((None, date(2020, 2, 1)), [])
        # The calendar's ends (any date the API accepts) do not overflow.
        assert q.split_period(None, date(1, 1, 15)) == (None, [(date.min, date(1, 1, 15))])
        assert q.split_period(date(9999, 12, 5), None) == ((date.max, None), [(date(9999, 12, 5), date.max)])
        assert q.split_period(date(9999, 12, 5), date(9999, 12, 30)) == (None, [(date(9999, 12, 5),
                                                                                 date(9999, 12, 30))])

    def test_each_age_group_lies_in_one_band_of_each_scheme(self):
        assert [q.band_of_group("pilot", g) for g in range(6)] == ["under_1", "1_4", "5_plus", "5_plus", "5_plus",
                                                                   "5_plus"]
        assert [q.band_of_group("marrakech", g) for g in range(6)] == ["under_1", "1_5", "1_5", "6_13", "14_17",
                                                                       "18_plus"]
