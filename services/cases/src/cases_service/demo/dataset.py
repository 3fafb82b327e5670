"""The synthetic demo dataset: the pilot as published, and plausible activity in the phase-2 cities.

Pure data, deterministic (a seeded generator): the loader turns each `Encounter` into an intake through
the service's own domain functions. Every name is invented from syllables no Moroccan name is made of
(e.g. "Quxavi Bipeqo"), and every narrative says the record is demo data, so no record can be mistaken
for a real child. (Names share no common word: a shared token would make every child a duplicate
candidate of every other.)

Pilot (Rabat, Salé, Skhirate-Témara, 4 Dec 2019 - 31 Dec 2020), as published: 142 children, 79 girls and
63 boys; 94 aged 0-4 (66%), 38 of them under one (27%); 13 foreign; adults 97 mothers, 2 grandmothers,
1 other relative; 17 of the 97 mothers (17.5%) had more than one child with them. 71 adults prosecuted.
Marrakech (Jun 2021 - Apr 2022), as published: 369 children, 241 boys, 60% found at night.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

SEED = 2019_12_04
# Invented first names, none of them a real given name.
SYLLABLES = ("qu", "xa", "vi", "bi", "pe", "qo", "zu", "xe", "vo", "ky", "qi", "zo", "wu", "xi", "vy", "pq")
FOREIGN = ("SN", "CI", "GN", "ML", "SY", "CM")
PILOT_PREFECTURES = {"04.421": ("04.421.01", "04.421.02"), "04.441": ("04.441.01", "04.441.02", "04.441.03"),
                     "04.501": ("04.501.01", "04.501.02", "04.501.05")}
PILOT_FROM, PILOT_TO = date(2019, 12, 4), date(2020, 12, 31)


@dataclass
class Child:
    """A child of an encounter: sex, age at the intake (years, may be fractional) and nationality."""

    sex: str
    age: float
    nationality: str = "MA"
    exact_birth_date: bool = False


@dataclass
class Adult:
    """The accompanying adult of an encounter."""

    sex: str
    age: int
    relationship: str
    nationality: str = "MA"
    prosecuted: bool = False
    filiation: str | None = None  # the result of a documents check, when one was made


@dataclass
class Encounter:
    """One intake: where, when, how, with its children and adult."""

    commune_code: str
    reported_at: datetime
    source: str
    place_type: str
    night: bool
    pattern: str
    children: list[Child]
    adults: list[Adult] = field(default_factory=list)
    decision: str | None = None  # the prosecutor's decision about the children, if any
    services: list[tuple[str, str, str]] = field(default_factory=list)  # (beneficiary, type, status)


def invented_name(rng: random.Random) -> str:
    """A name made of invented syllables (capitalised), e.g. "Quxavi"."""
    return "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()


def _when(rng: random.Random, start: date, end: date, *, night: bool) -> datetime:
    day = start + timedelta(days=rng.randrange((end - start).days + 1))
    hour = rng.choice((20, 21, 22)) if night else rng.randrange(9, 18)
    return datetime(day.year, day.month, day.day, hour, rng.randrange(60), tzinfo=UTC)


def _pilot_children(rng: random.Random) -> list[Child]:
    """142 children: 38 under one, 56 aged 1-4, 48 aged 5+; 79 girls, 63 boys (shuffled together)."""
    ages = ([rng.choice((0.25, 0.5, 0.75)) for _ in range(38)] + [float(rng.randint(1, 4)) for _ in range(56)]
            + [float(rng.randint(5, 14)) for _ in range(48)])
    sexes = ["female"] * 79 + ["male"] * 63
    rng.shuffle(sexes)
    return [Child(sex=s, age=a, exact_birth_date=(i % 3 == 0))
            for i, (s, a) in enumerate(zip(sexes, ages, strict=True))]


def pilot(rng: random.Random) -> list[Encounter]:
    """The pilot's 125 encounters (see the module docstring for the figures they reproduce)."""
    children = _pilot_children(rng)
    young = [c for c in children if c.age < 5]          # 94
    older = [c for c in children if c.age >= 5]         # 48
    alone, with_adult_older = older[:25], older[25:]     # 25 children found without an adult
    accompanied = young + with_adult_older               # 117
    rng.shuffle(accompanied)
    groups: list[tuple[str, list[Child]]] = []
    for _ in range(17):                                  # 17 mothers with two children
        groups.append(("mother", [accompanied.pop(), accompanied.pop()]))
    for _ in range(80):                                  # 80 mothers with one child
        groups.append(("mother", [accompanied.pop()]))
    groups += [("grandparent", [accompanied.pop()]), ("grandparent", [accompanied.pop()]),
               ("other_relative", [accompanied.pop()])]
    assert not accompanied
    foreign_groups = [g for g in groups if g[0] == "mother" and len(g[1]) == 2][:5] + \
        [g for g in groups if g[0] == "mother" and len(g[1]) == 1][:3]     # 5 x 2 + 3 x 1 = 13 foreign
    for _, kids in foreign_groups:
        country = rng.choice(FOREIGN)
        for kid in kids:
            kid.nationality = country
    prosecuted = set(rng.sample(range(len(groups)), 71))
    encounters: list[Encounter] = []
    prefectures = list(PILOT_PREFECTURES)
    for n, (relationship, kids) in enumerate(groups):
        prefecture = rng.choices(prefectures, weights=(45, 35, 20))[0]
        night = rng.random() < 0.4
        filiation = rng.choices(("confirmed", "inconclusive", "excluded", None), weights=(70, 8, 4, 18))[0]
        adult = Adult(sex="female" if relationship != "other_relative" else "male",
                      age=rng.randint(19, 45) if relationship == "mother" else rng.randint(50, 70),
                      relationship=relationship, nationality=kids[0].nationality, prosecuted=n in prosecuted,
                      filiation=filiation)
        decision = rng.choices(("return_to_family", "emergency_placement", "placement_trusted_person", None),
                               weights=(60, 12, 5, 23))[0]
        services = [("child", rng.choice(("medical", "civil_status_registration", "school_enrolment")),
                     rng.choice(("proposed", "completed", "in_progress"))),
                    ("mother", rng.choice(("social_programme", "income_generating_activity", "legal_aid")),
                     rng.choice(("proposed", "completed", "refused")))] if rng.random() < 0.6 else []
        encounters.append(Encounter(
            commune_code=rng.choice(PILOT_PREFECTURES[prefecture]),
            reported_at=_when(rng, PILOT_FROM, PILOT_TO, night=night),
            source=rng.choice(("field_patrol", "field_patrol", "judicial_police", "ngo", "hotline_2511")),
            place_type=rng.choice(("traffic_light", "traffic_light", "mosque", "market", "cafe_restaurant")),
            night=night, pattern="with_adult", children=kids, adults=[adult], decision=decision,
            services=services))
    for kid in alone:
        night = rng.random() < 0.5
        encounters.append(Encounter(
            commune_code=rng.choice(PILOT_PREFECTURES[rng.choice(prefectures)]),
            reported_at=_when(rng, PILOT_FROM, PILOT_TO, night=night), source="field_patrol",
            place_type=rng.choice(("traffic_light", "tourist_site", "transport_hub", "cafe_restaurant")),
            night=night, pattern=rng.choice(("alone", "selling_as_cover")), children=[kid],
            decision=rng.choice(("return_to_family", "emergency_placement", None))))
    return encounters


def _city(rng: random.Random, *, communes: tuple[str, ...], start: date, end: date, children: int, boys: int,
          night_share: float) -> list[Encounter]:
    """Plausible activity: `children` children (`boys` of them boys), one or two per encounter."""
    sexes = ["male"] * boys + ["female"] * (children - boys)
    rng.shuffle(sexes)
    encounters: list[Encounter] = []
    while sexes:
        size = min(len(sexes), rng.choices((1, 2), weights=(75, 25))[0])
        kids = [Child(sex=sexes.pop(), age=float(rng.randint(0, 15)) or 0.5,
                      nationality=rng.choices(("MA", *FOREIGN), weights=(92, 2, 2, 1, 1, 1, 1))[0])
                for _ in range(size)]
        night = rng.random() < night_share
        alone = all(k.age >= 8 for k in kids) and rng.random() < 0.6
        adults = [] if alone else [Adult(sex="female", age=rng.randint(19, 50), relationship=rng.choices(
            ("mother", "grandparent", "other_relative", "unrelated"), weights=(85, 4, 6, 5))[0],
            nationality=kids[0].nationality, prosecuted=rng.random() < 0.5,
            filiation=rng.choices(("confirmed", "excluded", None), weights=(60, 5, 35))[0])]
        encounters.append(Encounter(
            commune_code=rng.choice(communes), reported_at=_when(rng, start, end, night=night),
            source=rng.choice(("field_patrol", "judicial_police", "citizen", "ngo")),
            place_type=rng.choice(("traffic_light", "tourist_site", "mosque", "market", "transport_hub")),
            night=night, pattern=rng.choice(("alone", "selling_as_cover")) if alone else "with_adult",
            children=kids, adults=adults,
            decision=rng.choices(("return_to_family", "emergency_placement", None), weights=(55, 15, 30))[0]))
    return encounters


def phase2(rng: random.Random) -> list[Encounter]:
    """Marrakech as published (369 children, 241 boys, 60% at night) and smaller activity elsewhere."""
    return (_city(rng, communes=("07.351.01", "07.351.02", "07.351.05"), start=date(2021, 6, 1),
                  end=date(2022, 4, 30), children=369, boys=241, night_share=0.6)
            + _city(rng, communes=("01.511.01", "01.511.02"), start=date(2021, 2, 1), end=date(2022, 12, 31),
                    children=84, boys=47, night_share=0.4)
            + _city(rng, communes=("03.061.01", "03.061.03"), start=date(2021, 2, 1), end=date(2022, 12, 31),
                    children=51, boys=26, night_share=0.35)
            + _city(rng, communes=("09.001.01", "09.001.04"), start=date(2021, 2, 1), end=date(2022, 12, 31),
                    children=63, boys=35, night_share=0.45))


@dataclass
class Care:
    """What follows the decision for the first child of an encounter returned to the family: the CAPE's
    casework (assessment, validated care plan, care), follow-up visits every `visit_every_days`, and for some
    the case closed, then the child met begging again `seen_again_after_days` after the closure."""

    encounter: int  # index in `encounters()`
    visits: int
    visit_every_days: int
    closed: bool
    seen_again_after_days: int | None = None


def care_stories(all_encounters: list[Encounter]) -> list[Care]:
    """Casework for some children returned to their family (aged 5 or more, so that a second encounter never
    moves the child to another published age band): about half are closed after the visits and a third of
    those are met again (repeat cases: recidivism), the others stay in care with their visits."""
    rng = random.Random(SEED + 2)  # noqa: S311 (synthetic data, reproducible on purpose)
    out: list[Care] = []
    for n, enc in enumerate(all_encounters):
        if enc.decision != "return_to_family" or enc.children[0].age < 5 or rng.random() > 0.6:
            continue
        closed = rng.random() < 0.5
        again = rng.randint(10, 200) if closed and rng.random() < 0.35 else None
        out.append(Care(encounter=n, visits=rng.randint(1, 4), visit_every_days=rng.choice((30, 45, 60)),
                        closed=closed, seen_again_after_days=again))
    return out


def encounters() -> list[Encounter]:
    """Every encounter of the demo, in a fixed order (the same on every run)."""
    rng = random.Random(SEED)  # noqa: S311 (synthetic data, reproducible on purpose)
    return pilot(rng) + phase2(rng)
