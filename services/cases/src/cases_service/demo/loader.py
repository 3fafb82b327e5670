"""Loads the demo dataset through the cases service's domain functions (encryption, case numbers,
events, audit: the same code paths as the API), once: a second run finds its marker and does nothing.

Each step runs at its time in the story (the story clock stamps the timeline events it writes): screening
two hours after the encounter, the referral to the prosecution six hours after, the decisions days later,
then for some children the casework, follow-up visits, closure and a second encounter (decision 0062)."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.cases import service as case_domain
from cases_service.cases.schemas import CaseUpdate, TransitionCreate
from cases_service.casework import service as casework
from cases_service.casework.schemas import (
    AssessmentCreate,
    CarePlanCreate,
    FiliationCheckCreate,
    FollowUpCreate,
    ServiceCreate,
)
from cases_service.core.context import DAYS_PER_YEAR, Context, EventContext
from cases_service.core.directory import Directory, OrganizationEntry, UserEntry
from cases_service.core.protection import Protector
from cases_service.core.records import VisibleCase
from cases_service.core.reference import ReferenceData
from cases_service.decisions.service import receive_event
from cases_service.demo import dataset, repository
from cases_service.intakes import service as intakes
from cases_service.intakes.records import OpenedCase
from cases_service.intakes.schemas import AdultCreate, ChildCreate, IntakeCreate
from himaya.auth import NATIONAL, Principal
from himaya.events import ServiceEvent
from himaya.scopes import Role, scopes_for

NAMESPACE = uuid.UUID("5d3c1f0e-8f7a-4c55-9d0b-6a1e2c3b4d5e")
LOADER_ID = uuid.uuid5(NAMESPACE, "loader")
COORDINATOR_ID = uuid.uuid5(NAMESPACE, "coordinator")
CAPE_ORG = uuid.uuid5(NAMESPACE, "cape")
PROSECUTION_ORG = uuid.uuid5(NAMESPACE, "prosecution")
PROSECUTION_ACTOR = f"client:{uuid.uuid5(NAMESPACE, 'prosecution-system')}"


@dataclass
class Loaded:
    """What a run did."""

    loaded: bool
    intakes: int = 0
    cases: int = 0
    repeat_cases: int = 0
    follow_ups: int = 0


def loader_principal() -> Principal:
    """The demo loader acts as a national CAPE case manager (a machine client, named in the audit log)."""
    return Principal(subject_id=LOADER_ID, subject_type="client", role=Role.CASE_MANAGER.value,
                     scopes=frozenset(scopes_for(Role.CASE_MANAGER)), territories=(NATIONAL,),
                     organization_id=CAPE_ORG, organization_type="cape", username="demo-loader")


def coordinator_principal() -> Principal:
    """The CAPE team coordinator who validates the demo's care plans and closes its cases."""
    return Principal(subject_id=COORDINATOR_ID, subject_type="client", role=Role.TEAM_COORDINATOR.value,
                     scopes=frozenset(scopes_for(Role.TEAM_COORDINATOR)), territories=(NATIONAL,),
                     organization_id=CAPE_ORG, organization_type="cape", username="demo-coordinator")


class DemoDirectory:
    """The directory of the demo's own fictional actors (they are not identity's users): the loader and the
    coordinator, case managers of one national CAPE."""

    async def organization(self, organization_id: uuid.UUID, *, authorization: str | None
                           ) -> OrganizationEntry | None:
        """The demo CAPE, or None."""
        return OrganizationEntry(id=CAPE_ORG, type="cape", territory_code=NATIONAL) \
            if organization_id == CAPE_ORG else None

    async def user(self, user_id: uuid.UUID, *, authorization: str | None) -> UserEntry | None:
        """The loader or the coordinator, or None."""
        roles = {LOADER_ID: Role.CASE_MANAGER.value, COORDINATOR_ID: Role.TEAM_COORDINATOR.value}
        if user_id not in roles:
            return None
        return UserEntry(id=user_id, organization_id=CAPE_ORG, organization_type="cape", role=roles[user_id],
                         territories=(NATIONAL,), active=True)


DEMO_DIRECTORY = Directory(source=DemoDirectory(), authorization=None)


def decided_at(enc: dataset.Encounter, n: int) -> datetime:
    """When the prosecutor decided on encounter `n`: two to thirteen days after it."""
    return enc.reported_at + timedelta(days=2 + n % 12, hours=3)


def _child(names: random.Random, child: dataset.Child, on: date) -> ChildCreate:
    birth = None
    if child.exact_birth_date:
        # A birth date that gives exactly this age at the intake, well away from a birthday.
        birth = on - timedelta(days=round(child.age * DAYS_PER_YEAR) + 40)
    return ChildCreate(first_name=dataset.invented_name(names), last_name=dataset.invented_name(names),
                       sex=child.sex, birth_date=birth,
                       estimated_age_years=None if birth else child.age,
                       nationality=child.nationality, schooling="unknown")


async def _case(ctx: Context, case_id: uuid.UUID) -> VisibleCase:
    """The case as the routes load it for a write (visible to the loader, locked)."""
    return await case_domain.visible_case(ctx, case_id=case_id, lock=True)


async def load(*, session: AsyncSession, protector: Protector, reference: ReferenceData) -> Loaded:
    """Load the demo dataset in the caller's transaction unless it is there already."""
    principal = loader_principal()
    await repository.lock(session)
    if await repository.intakes_recorded_by(session, principal.actor):
        return Loaded(loaded=False)
    ctx = Context(session=session, principal=principal, protector=protector, reference=reference,
                  directory=DEMO_DIRECTORY)
    names = random.Random(dataset.SEED + 1)  # noqa: S311 (invented names, reproducible on purpose)
    result = Loaded(loaded=True)
    encounters = dataset.encounters()
    first_cases: list[OpenedCase] = []
    for n, enc in enumerate(encounters):
        on = enc.reported_at.date()
        data = IntakeCreate(
            reported_at=enc.reported_at, source=enc.source,
            commune_code=enc.commune_code, place_type=enc.place_type,
            night=enc.night, exploitation_pattern=enc.pattern,
            narrative="Données fictives de démonstration (demo data).",
            children=[_child(names, c, on) for c in enc.children],
            adults=[AdultCreate(first_name=dataset.invented_name(names), last_name=dataset.invented_name(names),
                                sex=a.sex, age=a.age, nationality=a.nationality,
                                claimed_relationship=a.relationship)
                    for a in enc.adults])
        await repository.set_story_clock(session, enc.reported_at)
        intake = await intakes.create_intake(ctx=ctx, data=data)
        result.intakes += 1
        result.cases += len(intake.cases)
        first_cases.append(intake.cases[0])
        for case in intake.cases:
            await repository.set_story_clock(session, enc.reported_at + timedelta(hours=2))
            await case_domain.transition_case(ctx=ctx,
                                              case=await _case(ctx, case.id), data=TransitionCreate(to="screened"))
            await repository.set_story_clock(session, enc.reported_at + timedelta(days=1))
            for adult, adult_id in zip(enc.adults, intake.adult_ids, strict=True):
                if adult.filiation is not None:
                    await casework.create_filiation_check(ctx=ctx,
                                                          case=await _case(ctx, case.id), data=FiliationCheckCreate(
                        adult_id=adult_id, claimed_relationship=adult.relationship,
                        methods=["documents", "civil_status_check"], result=adult.filiation))
            for beneficiary, service_type, status in enc.services:
                await casework.create_service(ctx=ctx, case=await _case(ctx, case.id), data=ServiceCreate(
                    beneficiary=beneficiary, service_type=service_type, status=status))
        await _prosecution(session, enc, intake.cases, intake.adult_ids, n)
    coordinator = Context(session=session, principal=coordinator_principal(), protector=protector,
                          reference=reference, directory=DEMO_DIRECTORY)
    for care in dataset.care_stories(encounters):
        enc = encounters[care.encounter]
        await _casework(ctx, coordinator, care, enc, first_cases[care.encounter], decided_at(enc, care.encounter),
                        result)
    await repository.set_story_clock(session, None)
    return result


async def _casework(ctx: Context, coordinator: Context, care: dataset.Care, enc: dataset.Encounter,
                    case: OpenedCase, decided: datetime, result: Loaded) -> None:
    """After the decision: assessment, care plan, care and visits; for some the closure and a new encounter."""
    session = ctx.session

    async def at(when: datetime) -> None:
        await repository.set_story_clock(session, when)

    start = decided + timedelta(days=3)
    await at(start)
    current = await case_domain.get_case(ctx=ctx, case_id=case.id)
    await case_domain.update_case(ctx=ctx, case=await _case(ctx, case.id), data=CaseUpdate(case_manager_id=LOADER_ID),
                                  expected_version=current.version)
    await case_domain.transition_case(ctx=ctx,
                                      case=await _case(ctx, case.id), data=TransitionCreate(to="under_assessment"))
    await at(start + timedelta(days=7))
    await casework.create_assessment(ctx=ctx, case=await _case(ctx, case.id), data=AssessmentCreate(
        type="social_enquiry", completed=True, summary="Données fictives de démonstration (demo data)."))
    await at(start + timedelta(days=9))
    plan = await casework.create_care_plan(ctx=ctx, case=await _case(ctx, case.id), data=CarePlanCreate(
        objectives="Retour en famille et scolarisation (données fictives de démonstration)."))
    await at(start + timedelta(days=11))
    await casework.validate_care_plan(ctx=coordinator, case=await _case(coordinator, case.id), plan_id=plan.id)
    await case_domain.transition_case(ctx=ctx, case=await _case(ctx, case.id), data=TransitionCreate(to="in_care"))
    visit = start + timedelta(days=11)
    today = datetime.now(enc.reported_at.tzinfo).date()
    for k in range(care.visits):
        visit += timedelta(days=care.visit_every_days)
        due = (visit + timedelta(days=care.visit_every_days)).date()
        if care.closed and k == care.visits - 1:
            # The step to follow-up checks the next visit against today's date, not the story's.
            due = max(due, today)
        await at(visit)
        await casework.create_follow_up(ctx=ctx, case=await _case(ctx, case.id), data=FollowUpCreate(
            visited_at=visit, child_seen=True, attending_school=k % 2 == 0, begging_observed=False,
            next_visit_due=due))
        result.follow_ups += 1
    if not care.closed:
        return
    await case_domain.transition_case(ctx=ctx, case=await _case(ctx, case.id), data=TransitionCreate(to="follow_up"))
    closed = visit + timedelta(days=10)
    await at(closed)
    await case_domain.transition_case(ctx=coordinator, case=await _case(coordinator, case.id), data=TransitionCreate(
        to="closed", reason="Situation stable en famille (données fictives de démonstration)."))
    if care.seen_again_after_days is None:
        return
    again = closed + timedelta(days=care.seen_again_after_days)
    await at(again)
    intake = await intakes.create_intake(ctx=ctx, data=IntakeCreate(
        reported_at=again, source="field_patrol", commune_code=enc.commune_code, place_type=enc.place_type,
        night=enc.night, exploitation_pattern="alone", narrative="Données fictives de démonstration (demo data).",
        children=[ChildCreate(child_id=case.child_id)]))
    await at(again + timedelta(hours=2))
    await case_domain.transition_case(ctx=ctx,
                                      case=await _case(ctx, intake.cases[0].id), data=TransitionCreate(to="screened"))
    result.intakes += 1
    result.cases += 1
    result.repeat_cases += 1


async def _prosecution(session: AsyncSession, enc: dataset.Encounter, cases: list[OpenedCase],
                       adult_ids: list[uuid.UUID], n: int) -> None:
    """A referral to the prosecution and its decisions arrive as events, as they do from referrals."""
    prosecuted = [a for a, _ in zip(enc.adults, adult_ids, strict=True) if a.prosecuted]
    if enc.decision is None and not prosecuted:
        return
    decided = decided_at(enc, n)
    for case in cases:
        referral = uuid.uuid5(NAMESPACE, f"referral-{case.id}")
        versions = itertools.count(1)  # the referral's version, as referrals numbers its events

        async def send(event_type: str, data: dict[str, object], key: str, *, at: datetime,
                       case_id: uuid.UUID = case.id, referral_id: uuid.UUID = referral,
                       versions: Iterator[int] = versions) -> None:
            await repository.set_story_clock(session, at)
            await receive_event(EventContext(session=session), event=ServiceEvent(
                id=uuid.uuid5(NAMESPACE, f"{key}-{case_id}"), type=event_type,
                occurred_at=at, case_id=case_id, referral_id=referral_id, organization_id=PROSECUTION_ORG,
                actor=PROSECUTION_ACTOR, data={**data, "sequence": next(versions)}))

        await send("referral.sent", {"kind": "prosecution", "urgency": "urgent"}, "sent",
                   at=enc.reported_at + timedelta(hours=6))
        if enc.decision is not None:
            await send("referral.decision_recorded", {"type": enc.decision, "concerns": "child",
                                                      "decided_at": decided.isoformat()}, "child-decision", at=decided)
        for adult, adult_id in zip(enc.adults, adult_ids, strict=True):
            if adult.prosecuted:
                await send("referral.decision_recorded", {
                    "type": "prosecute_adult", "concerns": "adult", "adult_id": str(adult_id),
                    "decided_at": decided.isoformat()}, f"adult-decision-{adult_id}", at=decided)
