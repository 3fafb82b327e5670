"""Synthetic national-scale data, generated in time order and sealed with the service's own keys.

Pure generation, no database: `Generator.batch(n)` returns the next `n` cases (with their intakes,
children, adults, timeline, grants, decisions, assessments, care plans, services, follow-ups and audit
events) as tuples in the column order of `COLUMNS`, ready for COPY. Every identifying value goes through
`Protector.seal` with the same table / column / row-id binding as the cases service's repositories and every name
through `Protector.name_tokens`, so the service reads, searches and rotates these rows like its own.

What it looks like: intakes spread over the loaded territories (every commune and arrondissement of
territories.csv), growing year on year since the pilot (4 Dec 2019); one child in most intakes, two or
three siblings in the rest; children named in Latin script, Arabic script, both, or not at all
(infants found alone), from common Moroccan names, so search meets the token frequencies of real data;
each case walks the state machine (reported → screened → referred_to_prosecution → interim_measure →
under_assessment → in_care → follow_up → closed) with plausible delays, stopping where "now" cuts it, with
side exits (closed_not_in_scope, transferred_out to another prefecture, suspended); children met again
after their case closed get a linked repeat case. Narratives say the record is synthetic.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cases_service.core.context import DAYS_PER_YEAR, GrantLifetimes, age_years
from cases_service.core.enums import PATH
from cases_service.core.protection import Protector
from cases_service.core.reference import LOCAL_LEVELS, ReferenceData
from himaya.audit import CHAINS, GENESIS, row_hash

PILOT_START = datetime(2019, 12, 4, 8, 0, tzinfo=UTC)
LOADER_ACTOR = "client:00000000-0000-4000-8000-5ca1e0000001"
NAMESPACE = uuid.UUID("8b4e6f0a-4f7e-4d0b-9a57-5ca1e1d00000")

# Common Moroccan given and family names with their Arabic spelling (search meets real token frequencies).
GIRLS = (("Fatima", "فاطمة"), ("Khadija", "خديجة"), ("Salma", "سلمى"), ("Imane", "إيمان"), ("Aya", "آية"),
         ("Meryem", "مريم"), ("Hajar", "هاجر"), ("Sara", "سارة"), ("Nour", "نور"), ("Zineb", "زينب"),
         ("Hiba", "هبة"), ("Kawtar", "كوثر"), ("Oumaima", "أميمة"), ("Chaimae", "شيماء"), ("Rania", "رانية"),
         ("Yasmine", "ياسمين"), ("Asmae", "أسماء"), ("Hanane", "حنان"), ("Soukaina", "سكينة"), ("Malak", "ملاك"),
         ("Ikram", "إكرام"), ("Douae", "دعاء"), ("Wiame", "وئام"), ("Houda", "هدى"), ("Amina", "أمينة"),
         ("Ghizlane", "غزلان"), ("Nisrine", "نسرين"), ("Loubna", "لبنى"), ("Btissam", "ابتسام"), ("Rim", "ريم"))
BOYS = (("Mohamed", "محمد"), ("Youssef", "يوسف"), ("Amine", "أمين"), ("Omar", "عمر"), ("Hamza", "حمزة"),
        ("Ayoub", "أيوب"), ("Adam", "آدم"), ("Ilyas", "إلياس"), ("Anas", "أنس"), ("Yassine", "ياسين"),
        ("Mehdi", "مهدي"), ("Bilal", "بلال"), ("Zakaria", "زكرياء"), ("Othmane", "عثمان"), ("Hicham", "هشام"),
        ("Karim", "كريم"), ("Said", "سعيد"), ("Rachid", "رشيد"), ("Abdellah", "عبد الله"), ("Ismail", "إسماعيل"),
        ("Walid", "وليد"), ("Nabil", "نبيل"), ("Soufiane", "سفيان"), ("Badr", "بدر"), ("Reda", "رضا"),
        ("Taha", "طه"), ("Marouane", "مروان"), ("Ibrahim", "إبراهيم"), ("Khalid", "خالد"), ("Tarik", "طارق"))
FAMILIES = (("Alaoui", "العلوي"), ("Bennani", "بناني"), ("Tazi", "التازي"), ("Idrissi", "الإدريسي"),
            ("El Amrani", "العمراني"), ("Berrada", "برادة"), ("Chraibi", "الشرايبي"), ("Benjelloun", "بنجلون"),
            ("Fassi", "الفاسي"), ("Ouazzani", "الوزاني"), ("Lahlou", "لحلو"), ("Sebti", "السبتي"),
            ("Bouzidi", "البوزيدي"), ("Amrani", "عمراني"), ("Haddad", "الحداد"), ("Naciri", "الناصري"),
            ("Kettani", "الكتاني"), ("Cherkaoui", "الشرقاوي"), ("Filali", "الفيلالي"), ("Rifi", "الريفي"),
            ("Soussi", "السوسي"), ("Marrakchi", "المراكشي"), ("Zouhair", "زهير"), ("Ait Lahcen", "آيت لحسن"),
            ("Ouali", "والي"), ("Jabri", "الجابري"), ("Mansouri", "المنصوري"), ("Kabbaj", "القباج"),
            ("Benali", "بنعلي"), ("Daoudi", "الداودي"), ("Hamdaoui", "الحمداوي"), ("Saidi", "السعيدي"),
            ("Moussaoui", "الموساوي"), ("Tahiri", "الطاهري"), ("Ghazi", "الغازي"), ("Belhaj", "بلحاج"),
            ("Rami", "رامي"), ("Zerouali", "الزروالي"), ("Bakkali", "البقالي"), ("Lamrani", "لمراني"))
FOREIGN = ("SN", "CI", "GN", "ML", "SY", "CM", "NG")
SOURCES = (("field_patrol", 45), ("judicial_police", 20), ("ngo", 12), ("citizen", 8), ("hotline_2511", 8),
           ("school", 2), ("health", 3), ("other", 2))
PLACES = (("traffic_light", 35), ("mosque", 15), ("market", 15), ("tourist_site", 8), ("cafe_restaurant", 8),
          ("transport_hub", 8), ("shop", 5), ("residential", 3), ("other", 3))
PATTERNS = (("with_adult", 60), ("alone", 20), ("selling_as_cover", 15), ("network_suspected", 5))
# Days from one step of PATH to the next (low, high).
DELAYS = ((0.1, 3), (1, 6), (2, 20), (5, 40), (10, 60), (30, 120), (120, 420))
CHILD_DECISIONS = ("return_to_family", "emergency_placement", "placement_trusted_person", "refer_juvenile_judge",
                   "medical_care_order", "civil_status_regularisation")
LASTING = frozenset({"emergency_placement", "placement_trusted_person", "refer_juvenile_judge",
                     "medical_care_order"})
SERVICES = ("medical", "psychological", "school_enrolment", "civil_status_registration", "family_mediation",
            "social_programme", "legal_aid", "income_generating_activity")

COLUMNS: dict[str, tuple[str, ...]] = {
    "intakes": ("id", "reported_at", "source", "region_code", "prefecture_code", "commune_code", "court_code",
                "place_type", "night", "exploitation_pattern", "narrative_enc", "organization_id", "created_by",
                "created_at"),
    "children": ("id", "first_name_enc", "last_name_enc", "first_name_ar_enc", "last_name_ar_enc",
                 "description_enc", "name_tokens", "sex", "birth_date", "estimated_age_years", "age_estimated_on",
                 "reference_birth_date", "nationality", "civil_status_registered", "schooling", "disability",
                 "created_at", "updated_at"),
    "adults": ("id", "intake_id", "first_name_enc", "last_name_enc", "first_name_ar_enc", "last_name_ar_enc",
               "name_tokens", "sex", "age_years", "cnie_enc", "cnie_index", "nationality", "suspected_offender",
               "created_at"),
    "cases": ("id", "case_number", "child_id", "recorded_child_id", "intake_id", "region_code", "prefecture_code",
              "commune_code", "court_code", "status", "suspended_from_status", "risk_level", "trafficking_suspected",
              "lead_organization_id", "case_manager_id", "repeat_of_case_id", "transferred_from_case_id",
              "transferred_to_case_id", "age_at_intake_years", "duplicate_checked_at", "opened_at", "closed_at",
              "closure_reason_enc", "version", "updated_at"),
    "case_adults": ("case_id", "adult_id", "claimed_relationship", "created_at"),
    "case_events": ("case_id", "occurred_at", "actor", "actor_organization_id", "event_type", "from_status",
                    "to_status", "data", "reason_enc", "source_event_id"),
    "case_access_grants": ("case_id", "organization_id", "source_id", "kind", "granted_at", "expires_at",
                           "source_sequence"),
    "judicial_measures": ("id", "case_id", "referral_id", "decision_id", "source_event_id", "decision_type",
                          "concerns", "adult_id", "decided_at", "reference", "active", "created_at"),
    "assessments": ("id", "case_id", "type", "status", "completed_at", "summary_enc", "created_by", "created_at"),
    "care_plans": ("id", "case_id", "objectives_enc", "status", "validated_by", "validated_at", "created_by",
                   "created_at"),
    "service_deliveries": ("id", "case_id", "beneficiary", "service_type", "provider_organization_id", "status",
                           "notes_enc", "created_by", "created_at", "updated_at"),
    "follow_ups": ("id", "case_id", "visited_at", "child_seen", "attending_school", "begging_observed",
                   "next_visit_due", "notes_enc", "created_by", "created_at"),
    "audit_events": ("chain", "occurred_at", "actor", "actor_organization_id", "action", "object_type",
                     "object_id", "case_id", "fields", "outcome", "request_id", "source_ip", "prev_hash", "hash"),
}
# Parents before children (foreign keys hold at every point of the load).
TABLE_ORDER = tuple(COLUMNS)


_new_object = object.__new__
_set_slot = object.__setattr__
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_uuid(bits: random.Random) -> uuid.UUID:
    """A random (version 4) UUID without uuid.UUID's argument checks: a million cases need ~15 million ids,
    and the checks were the loader's largest single cost. The bits come from a seeded generator, so a
    load is reproducible; these ids name synthetic rows only."""
    value = _new_object(uuid.UUID)
    _set_slot(value, "int", (bits.getrandbits(128) & _V4_CLEAR) | _V4_SET)
    _set_slot(value, "is_safe", uuid.SafeUUID.unknown)
    return value


def _weighted(pairs: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    return [p[0] for p in pairs], [p[1] for p in pairs]


@dataclass
class Territory:
    """One prefecture of the load: its communes, prefix, court and the organisations working there."""

    code: str
    region: str
    prefix: str
    court: str
    communes: list[str]
    cape: uuid.UUID
    police: uuid.UUID
    prosecution: uuid.UUID
    ngo: uuid.UUID
    managers: list[uuid.UUID]
    field_actors: list[str]


@dataclass
class _Closed:
    """A child whose last case is closed: may come back as a repeat case."""

    child_id: uuid.UUID
    case_id: uuid.UUID
    reference_birth_date: date
    sex: str


@dataclass
class Batch:
    """Rows of every table for a run of consecutive cases, in `COLUMNS` order."""

    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=lambda: {t: [] for t in COLUMNS})
    cases: int = 0


class Generator:
    """Deterministic (seeded) stream of synthetic cases, oldest intake first."""

    def __init__(self, *, protector: Protector, reference: ReferenceData, total_cases: int, seed: int = 9,
                 now: datetime | None = None, numbers: dict[tuple[str, int], int] | None = None,
                 chain_heads: dict[int, bytes] | None = None) -> None:
        self.protector = protector
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
        self.now = now or datetime.now(UTC)
        self.total = total_cases
        self.numbers: dict[tuple[str, int], int] = dict(numbers or {})
        self.chain_heads = {c: (chain_heads or {}).get(c, GENESIS) for c in range(CHAINS)}
        self.territories = self._territories(reference)
        self.weights = [max(1, len(t.communes)) for t in self.territories]
        self._sources = _weighted(SOURCES)
        self._places = _weighted(PLACES)
        self._patterns = _weighted(PATTERNS)
        self._closing: list[tuple[datetime, int, str, _Closed]] = []  # heap of cases closing in the future
        self._closed: dict[str, list[_Closed]] = {t.code: [] for t in self.territories}
        self._tie = 0
        self.made = 0
        self._times = self._intake_times()

    # ---- setup ---------------------------------------------------------------------------------------

    def _territories(self, ref: ReferenceData) -> list[Territory]:
        out = []
        for code, level in sorted(ref.levels.items()):
            if level != "prefecture":
                continue
            communes = [c for c, lv in ref.levels.items() if lv in LOCAL_LEVELS and self._prefecture(ref, c) == code]
            court = ref.default_courts.get(code)
            if not communes or court is None:
                continue
            def uid(kind: str, code: str = code) -> uuid.UUID:
                return uuid.uuid5(NAMESPACE, f"{kind}-{code}")
            out.append(Territory(code=code, region=ref.parents[code], prefix=ref.prefixes[code], court=court,
                                 communes=sorted(communes), cape=uid("cape"), police=uid("police"),
                                 prosecution=uid("prosecution"), ngo=uid("ngo"),
                                 managers=[uid(f"manager-{i}") for i in range(8)],
                                 field_actors=[f"user:{uid(f'field-{i}')}" for i in range(12)]))
        if not out:
            raise ValueError("no territory with communes and a court in the reference data")
        return out

    @staticmethod
    def _prefecture(ref: ReferenceData, code: str) -> str | None:
        while ref.levels.get(code) not in (None, "prefecture"):
            code = ref.parents.get(code, "")
        return code or None

    def _intake_times(self) -> Iterator[datetime]:
        """Intake times in order, the yearly volume growing linearly from the pilot to now."""
        span = (self.now - timedelta(hours=1) - PILOT_START).total_seconds()
        n = int(self.total / 1.3) + 16
        # Order statistics of a density growing linearly in time: sqrt of sorted uniforms.
        us = sorted(self.rng.random() for _ in range(n))
        for u in us:
            yield PILOT_START + timedelta(seconds=span * u ** 0.5)
        last = self.now - timedelta(hours=1)
        while True:
            yield last

    # ---- generation ------------------------------------------------------------------------------------

    def batch(self, n_cases: int) -> Batch:
        """The next `n_cases` cases (or fewer at the end) and everything attached to them."""
        out = Batch()
        target = min(self.total, self.made + n_cases)
        while self.made < target:
            self._intake(out, next(self._times), target - self.made)
        return out

    def done(self) -> bool:
        """Whether every case was generated."""
        return self.made >= self.total

    def _intake(self, out: Batch, reported: datetime, room: int) -> None:
        rng = self.rng
        self._release(reported)
        terr = rng.choices(self.territories, weights=self.weights)[0]
        commune = rng.choice(terr.communes)
        pattern = rng.choices(*self._patterns)[0]
        source = rng.choices(*self._sources)[0]
        night = rng.random() < 0.35
        intake_id = self._id()
        reporter = terr.ngo if source == "ngo" else (terr.police if source == "judicial_police" else terr.cape)
        actor = rng.choice(terr.field_actors)
        narrative = (f"Synthetic scale-test record: child seen at a {rng.choices(*self._places)[0].replace('_', ' ')}"
                     f"{' at night' if night else ''}.")
        out.rows["intakes"].append((
            intake_id, reported, source, terr.region, terr.code, commune, terr.court, rng.choices(*self._places)[0],
            night, pattern, self.protector.cipher.encrypt(narrative, table="intakes", column="narrative",
                                                          row_id=intake_id),
            reporter, actor, reported))
        siblings = 1 if rng.random() < 0.78 else (2 if rng.random() < 0.75 else 3)
        siblings = min(siblings, room)
        family = rng.choice(FAMILIES)
        adults = self._adults(out, intake_id, pattern, family, reported)
        opened = reported + timedelta(minutes=rng.randrange(5, 240))
        case_ids = [self._id() for _ in range(siblings)]
        for i, case_id in enumerate(case_ids):
            repeat = self._repeat_child(terr.code) if rng.random() < 0.12 else None
            if repeat is not None:
                child_id, ref, sex = repeat.child_id, repeat.reference_birth_date, repeat.sex
            else:
                child_id, ref, sex = self._child(out, family, reported)
            self._case(out, case_id=case_id, child_id=child_id, intake_id=intake_id, terr=terr, commune=commune,
                       opened=opened, ref=ref, sex=sex, pattern=pattern, actor=actor, adults=adults,
                       repeat_of=repeat.case_id if repeat else None,
                       siblings=[c for c in case_ids if c != case_id], intake_org=reporter)
            if i == 0:
                opened += timedelta(seconds=1)

    def _release(self, at: datetime) -> None:
        while self._closing and self._closing[0][0] <= at:
            _, _, code, closed = heapq.heappop(self._closing)
            self._closed[code].append(closed)

    def _repeat_child(self, code: str) -> _Closed | None:
        pool = self._closed[code]
        if not pool:
            return None
        i = self.rng.randrange(len(pool))
        pool[i], pool[-1] = pool[-1], pool[i]
        return pool.pop()

    def _names(self, sex: str, family: tuple[str, str]) -> dict[str, str | None]:
        rng = self.rng
        first = rng.choice(GIRLS if sex == "female" else BOYS)
        form = rng.random()
        latin, arabic = form < 0.85, form > 0.55  # 55% Latin only, 30% both, 15% Arabic only
        names: dict[str, str | None] = {"first_name": first[0] if latin else None,
                                        "last_name": family[0] if latin else None,
                                        "first_name_ar": first[1] if arabic else None,
                                        "last_name_ar": family[1] if arabic else None}
        if latin and rng.random() < 0.04:  # a misspelt record, as written down in the street
            names["first_name"] = _misspell(rng, first[0])
        return names

    def _child(self, out: Batch, family: tuple[str, str], reported: datetime) -> tuple[uuid.UUID, date, str]:
        rng = self.rng
        cid = self._id()
        sex = "female" if rng.random() < 0.52 else "male"
        # Ages: many infants carried by a mother, then children up to 17.
        age = rng.random() * (1 if rng.random() < 0.25 else (4 if rng.random() < 0.5 else 17))
        on = reported.date()
        exact = rng.random() < 0.3
        ref = on - timedelta(days=round(age * DAYS_PER_YEAR))
        unnamed = age < 1 and rng.random() < 0.5
        names = dict.fromkeys(("first_name", "last_name", "first_name_ar", "last_name_ar")) if unnamed \
            else self._names(sex, family)
        sealed = self.protector.seal("children", cid, {**names, "description": None})
        nationality = "MA" if rng.random() < 0.92 else rng.choice(FOREIGN)
        out.rows["children"].append((
            cid, sealed["first_name_enc"], sealed["last_name_enc"], sealed["first_name_ar_enc"],
            sealed["last_name_ar_enc"], None, self.protector.name_tokens(names), sex, ref if exact else None,
            None if exact else round(age, 1), None if exact else on, ref, nationality,
            rng.random() < 0.6, rng.choice(("never_enrolled", "dropped_out", "preschool", "primary", "unknown")),
            rng.random() < 0.04, reported, reported))
        return cid, ref, sex

    def _adults(self, out: Batch, intake_id: uuid.UUID, pattern: str, family: tuple[str, str],
                reported: datetime) -> list[tuple[uuid.UUID, str]]:
        rng = self.rng
        if pattern == "alone":
            return []
        specs = [("female", "mother")] if rng.random() < 0.85 else [(rng.choice(("female", "male")),
                                                                     rng.choice(("grandparent", "other_relative")))]
        if pattern == "network_suspected":
            specs = [("male", "unrelated")] * rng.choice((1, 2))
        adults = []
        for sex, relationship in specs:
            aid = self._id()
            names = self._names(sex, family if relationship != "unrelated" else rng.choice(FAMILIES))
            cnie = (f"{rng.choice('ABCDGHIJKLMNPQRSTUVWXYZ')}{rng.randrange(10000, 999999)}"
                    if rng.random() < 0.7 else None)
            sealed = self.protector.seal("adults", aid, {**names, "cnie": cnie})
            out.rows["adults"].append((
                aid, intake_id, sealed["first_name_enc"], sealed["last_name_enc"], sealed["first_name_ar_enc"],
                sealed["last_name_ar_enc"], self.protector.name_tokens(names), sex, rng.randrange(18, 60),
                sealed["cnie_enc"], self.protector.cnie_index(cnie), "MA" if rng.random() < 0.93 else "SN",
                relationship == "unrelated" or rng.random() < 0.3, reported))
            adults.append((aid, relationship))
        return adults

    def _case(self, out: Batch, *, case_id: uuid.UUID, child_id: uuid.UUID, intake_id: uuid.UUID, terr: Territory,
              commune: str, opened: datetime, ref: date, sex: str, pattern: str, actor: str,
              adults: list[tuple[uuid.UUID, str]], repeat_of: uuid.UUID | None, siblings: list[uuid.UUID],
              intake_org: uuid.UUID, transferred_from: uuid.UUID | None = None) -> None:
        rng = self.rng
        self.made += 1
        number = self._number(terr, opened.year)
        manager = rng.choice(terr.managers) if rng.random() < 0.9 else None
        rows = out.rows
        # Walk the path until "now" or a side exit.
        status, when, steps = "reported", opened, [("reported", opened)]
        exit_to: str | None = None
        for i, (low, high) in enumerate(DELAYS):
            nxt = when + timedelta(days=rng.uniform(low, high))
            if nxt >= self.now:
                break
            if status == "screened" and rng.random() < 0.05:
                exit_to = "closed_not_in_scope"
            elif status in ("screened", "interim_measure", "in_care") and rng.random() < 0.015 and \
                    transferred_from is None and len(self.territories) > 1:
                exit_to = "transferred_out"
            if exit_to:
                status, when = exit_to, nxt
                steps.append((exit_to, nxt))
                break
            status, when = PATH[i + 1], nxt
            steps.append((status, when))
        suspended_from = None
        if status not in ("closed", "closed_not_in_scope", "transferred_out", "reported") and rng.random() < 0.03:
            suspended_from, status = status, "suspended"
            when = min(self.now - timedelta(minutes=1), when + timedelta(days=rng.uniform(1, 30)))
            steps.append(("suspended", when))
        terminal = status in ("closed", "closed_not_in_scope", "transferred_out")
        reason = None
        if terminal:
            reason = {"closed": "Synthetic: care plan completed, child back in school.",
                      "closed_not_in_scope": "Synthetic: not a begging situation.",
                      "transferred_out": "Synthetic: family moved."}[status]
        transferred_to = None
        if status == "transferred_out":
            transferred_to = self._id()
        rows["cases"].append((
            # recorded_child_id: the child the case was opened with (a trigger fills it, off during the load).
            case_id, number, child_id, child_id, intake_id, terr.region, terr.code, commune, terr.court, status,
            suspended_from,
            rng.choice(("low", "medium", "high", "immediate")) if len(steps) > 1 else None,
            pattern == "network_suspected", terr.cape, manager, repeat_of, transferred_from, transferred_to,
            age_years(ref, opened.date()), opened, opened, when if terminal else None,
            self.protector.cipher.encrypt(reason, table="cases", column="closure_reason", row_id=case_id)
            if reason else None, len(steps), when))
        for adult_id, relationship in adults:
            rows["case_adults"].append((case_id, adult_id, relationship, opened))
        # Timeline and audit: the opening, then one event per step.
        events = rows["case_events"]
        events.append((case_id, opened, actor, intake_org, "case.opened", None, "reported", json.dumps({
            "intake_id": str(intake_id), "case_number": number,
            "repeat_of_case_id": str(repeat_of) if repeat_of else None,
            "sibling_case_ids": [str(s) for s in siblings], "duplicate_candidates": 0}), None, None))
        audit: list[tuple[datetime, str, uuid.UUID | None, str, list[str]]] = [
            (opened, actor, intake_org, "intake.create", ["case", "child", "intake", "intake.narrative"])]
        worker = f"user:{manager}" if manager else actor
        for (prev, _), (step, at) in itertools.pairwise(steps):
            events.append((case_id, at, worker, terr.cape, "case.status_changed", prev, step, "{}",
                           self.protector.cipher.encrypt(reason, table="case_events", column="reason",
                                                         row_id=case_id) if step == status and reason else None,
                           None))
            audit.append((at, worker, terr.cape, "case.transition", ["case.status"]))
        if rng.random() < 0.2:
            audit.append((when, worker, terr.cape, "case.read",
                          ["case", "child.birth_date", "child.names", "child.nationality", "child.sex"]))
        self._audit(rows["audit_events"], case_id, audit)
        if _at(steps, "referred_to_prosecution") is not None:
            self._prosecution(out, case_id, terr, steps, adults)
        self._casework(out, case_id, terr, steps, worker)
        if terminal and status != "transferred_out":
            heapq.heappush(self._closing, (when, self._next_tie(), terr.code, _Closed(child_id, case_id, ref, sex)))
        if transferred_to is not None:
            others = [t for t in self.territories if t.code != terr.code]
            dest = rng.choices(others, weights=[max(1, len(t.communes)) for t in others])[0]
            self._case(out, case_id=transferred_to, child_id=child_id, intake_id=intake_id, terr=dest,
                       commune=rng.choice(dest.communes), opened=when, ref=ref, sex=sex, pattern=pattern,
                       actor=worker, adults=adults, repeat_of=None, siblings=[], intake_org=terr.cape,
                       transferred_from=case_id)

    def _prosecution(self, out: Batch, case_id: uuid.UUID, terr: Territory, steps: list[tuple[str, datetime]],
                     adults: list[tuple[uuid.UUID, str]]) -> None:
        rng = self.rng
        referral_id = self._id()
        sent = _at(steps, "referred_to_prosecution")
        assert sent is not None
        out.rows["case_access_grants"].append((case_id, terr.prosecution, referral_id, "prosecution", sent,
                                               sent + GrantLifetimes().prosecution, 1))
        decided = _at(steps, "interim_measure")
        if decided is None:
            return
        still_open = steps[-1][0] not in ("closed", "closed_not_in_scope", "transferred_out")
        decision = rng.choice(CHILD_DECISIONS)
        out.rows["judicial_measures"].append((
            self._id(), case_id, referral_id, self._id(), self._id(), decision, "child", None, decided,
            f"PR/{decided.year}/{rng.randrange(1, 99999):05d}", still_open and decision in LASTING, decided))
        for adult_id, relationship in adults:
            if relationship in ("unrelated", "mother") and rng.random() < 0.4:
                out.rows["judicial_measures"].append((
                    self._id(), case_id, referral_id, self._id(), self._id(),
                    rng.choice(("prosecute_adult", "open_investigation", "no_further_action_adult")), "adult",
                    adult_id, decided, f"PR/{decided.year}/{rng.randrange(1, 99999):05d}", False, decided))

    def _casework(self, out: Batch, case_id: uuid.UUID, terr: Territory, steps: list[tuple[str, datetime]],
                  worker: str) -> None:
        rng, seal = self.rng, self.protector.seal
        rows = out.rows
        assessed = _at(steps, "under_assessment")
        if assessed is not None:
            aid = self._id()
            done = _at(steps, "in_care")
            rows["assessments"].append((
                aid, case_id, "social_enquiry", "completed" if done else "in_progress", done,
                seal("assessments", aid, {"summary": "Synthetic: family situation assessed."})["summary_enc"],
                worker, assessed))
        cared = _at(steps, "in_care")
        if cared is None:
            return
        pid = self._id()
        rows["care_plans"].append((pid, case_id, seal("care_plans", pid, {"objectives": "Synthetic: school, health, "
                                                                           "family support."})["objectives_enc"],
                                   "validated", worker, cared, worker, cared))
        for service in rng.sample(SERVICES, rng.choice((1, 1, 2))):
            sid = self._id()
            rows["service_deliveries"].append((
                sid, case_id, "mother" if service == "income_generating_activity" else "child", service, terr.ngo,
                rng.choice(("accepted", "in_progress", "completed", "completed")),
                self._note("service_deliveries", sid, "Synthetic service note."), worker, cared,
                cared))
        followed = _at(steps, "follow_up")
        if followed is None:
            return
        end = _at(steps, "closed") or min(self.now, followed + timedelta(days=180))
        visit = followed
        for _ in range(2):
            if visit >= end:
                break
            fid = self._id()
            due = (visit + timedelta(days=60)).date()
            rows["follow_ups"].append((
                fid, case_id, visit, rng.random() < 0.9, rng.random() < 0.7, rng.random() < 0.08, due,
                self._note("follow_ups", fid, "Synthetic follow-up visit."), worker, visit))
            visit += timedelta(days=rng.uniform(45, 90))

    def _audit(self, rows: list[tuple[Any, ...]], case_id: uuid.UUID,
               entries: list[tuple[datetime, str, uuid.UUID | None, str, list[str]]]) -> None:
        chain = self.rng.randrange(CHAINS)
        prev = self.chain_heads[chain]
        for occurred, actor, org, action, fields in entries:
            row = {"chain": chain, "occurred_at": occurred, "actor": actor, "actor_organization_id": org,
                   "action": action, "object_type": "case", "object_id": str(case_id), "case_id": case_id,
                   "fields": sorted(fields), "outcome": "success", "request_id": None, "source_ip": None}
            digest = row_hash(prev, row)
            rows.append((chain, occurred, actor, org, action, "case", str(case_id), case_id, row["fields"],
                         "success", None, None, prev, digest))
            prev = digest
        self.chain_heads[chain] = prev

    def _number(self, terr: Territory, year: int) -> str:
        key = (terr.code, year)
        value = self.numbers.get(key, 0) + 1
        self.numbers[key] = value
        return f"{terr.prefix}-{year}-{value:06d}"

    def _note(self, table: str, row_id: uuid.UUID, text: str) -> bytes | None:
        """Free-text notes are optional in the API; about a third of the rows carry one."""
        if self.rng.random() >= 0.3:
            return None
        return self.protector.cipher.encrypt(text, table=table, column="notes", row_id=row_id)

    def _id(self) -> uuid.UUID:
        return new_uuid(self.rng)

    def _next_tie(self) -> int:
        self._tie += 1
        return self._tie


def _at(steps: list[tuple[str, datetime]], status: str) -> datetime | None:
    for s, at in steps:
        if s == status:
            return at
    return None


def _misspell(rng: random.Random, word: str) -> str:
    """One plausible slip: a doubled, dropped or swapped letter."""
    i = rng.randrange(1, len(word))
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i - 1] + word[i:]
    if kind == 1 and len(word) > 3:
        return word[:i] + word[i + 1:]
    return word[:i - 1] + word[i:i + 1] + word[i - 1:i] + word[i + 1:]
