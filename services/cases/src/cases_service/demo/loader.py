"""Loads the demo dataset through the cases service's domain functions (encryption, case numbers,
events, audit: the same code paths as the API), once: a second run finds its marker and does nothing."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.demo import dataset, repository
from cases_service.domain import cases as case_domain
from cases_service.domain import casework
from cases_service.domain.context import DAYS_PER_YEAR, Context
from cases_service.domain.events import ServiceEvent, receive_event
from cases_service.domain.protection import Protector
from cases_service.domain.reference import ReferenceData
from cases_service.schemas.cases import AdultCreate, ChildCreate, IntakeCaseRead, IntakeCreate, TransitionCreate
from cases_service.schemas.casework import FiliationCheckCreate, ServiceCreate
from himaya.auth import NATIONAL, Principal
from himaya.scopes import Role, scopes_for

NAMESPACE = uuid.UUID("5d3c1f0e-8f7a-4c55-9d0b-6a1e2c3b4d5e")
LOADER_ID = uuid.uuid5(NAMESPACE, "loader")
CAPE_ORG = uuid.uuid5(NAMESPACE, "cape")
PROSECUTION_ORG = uuid.uuid5(NAMESPACE, "prosecution")
PROSECUTION_ACTOR = f"client:{uuid.uuid5(NAMESPACE, 'prosecution-system')}"


@dataclass
class Loaded:
    """What a run did."""

    loaded: bool
    intakes: int = 0
    cases: int = 0


def loader_principal() -> Principal:
    """The demo loader acts as a national CAPE case manager (a machine client, named in the audit log)."""
    return Principal(subject_id=LOADER_ID, subject_type="client", role=Role.CASE_MANAGER.value,
                     scopes=frozenset(scopes_for(Role.CASE_MANAGER)), territories=(NATIONAL,),
                     organization_id=CAPE_ORG, organization_type="cape", username="demo-loader")


def _child(names: random.Random, child: dataset.Child, on: date) -> ChildCreate:
    birth = None
    if child.exact_birth_date:
        # A birth date that gives exactly this age at the intake, well away from a birthday.
        birth = on - timedelta(days=round(child.age * DAYS_PER_YEAR) + 40)
    return ChildCreate(first_name=dataset.invented_name(names), last_name=dataset.invented_name(names),
                       sex=child.sex, birth_date=birth,
                       estimated_age_years=None if birth else child.age,
                       nationality=child.nationality, schooling="unknown")


async def load(*, session: AsyncSession, protector: Protector, reference: ReferenceData) -> Loaded:
    """Load the demo dataset in the caller's transaction unless it is there already."""
    principal = loader_principal()
    await repository.lock(session)
    if await repository.intakes_recorded_by(session, principal.actor):
        return Loaded(loaded=False)
    ctx = Context(session=session, principal=principal, protector=protector, reference=reference)
    names = random.Random(dataset.SEED + 1)  # noqa: S311 (invented names, reproducible on purpose)
    result = Loaded(loaded=True)
    for n, enc in enumerate(dataset.encounters()):
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
        intake = await case_domain.create_intake(ctx=ctx, data=data)
        result.intakes += 1
        result.cases += len(intake.cases)
        for case in intake.cases:
            await case_domain.transition_case(ctx=ctx, case_id=case.id, data=TransitionCreate(to="screened"))
            for adult, adult_id in zip(enc.adults, intake.adult_ids, strict=True):
                if adult.filiation is not None:
                    await casework.create_filiation_check(ctx=ctx, case_id=case.id, data=FiliationCheckCreate(
                        adult_id=adult_id, claimed_relationship=adult.relationship,
                        methods=["documents", "civil_status_check"], result=adult.filiation))
            for beneficiary, service_type, status in enc.services:
                await casework.create_service(ctx=ctx, case_id=case.id, data=ServiceCreate(
                    beneficiary=beneficiary, service_type=service_type, status=status))
        await _prosecution(session, enc, intake.cases, intake.adult_ids, n)
    return result


async def _prosecution(session: AsyncSession, enc: dataset.Encounter, cases: list[IntakeCaseRead],
                       adult_ids: list[uuid.UUID], n: int) -> None:
    """A referral to the prosecution and its decisions arrive as events, as they do from referrals."""
    prosecuted = [a for a, _ in zip(enc.adults, adult_ids, strict=True) if a.prosecuted]
    if enc.decision is None and not prosecuted:
        return
    decided_at = enc.reported_at + timedelta(days=1 + n % 6, hours=3)
    for case in cases:
        referral = uuid.uuid5(NAMESPACE, f"referral-{case.id}")

        async def send(event_type: str, data: dict[str, object], key: str, *, case_id: uuid.UUID = case.id,
                       referral_id: uuid.UUID = referral) -> None:
            await receive_event(session=session, event=ServiceEvent(
                id=uuid.uuid5(NAMESPACE, f"{key}-{case_id}"), type=event_type,
                occurred_at=decided_at, case_id=case_id, referral_id=referral_id, organization_id=PROSECUTION_ORG,
                actor=PROSECUTION_ACTOR, data=data))

        await send("referral.sent", {"kind": "prosecution", "urgency": "urgent"}, "sent")
        if enc.decision is not None:
            await send("referral.decision_recorded", {"type": enc.decision, "concerns": "child",
                                                      "decided_at": decided_at.isoformat()}, "child-decision")
        for adult, adult_id in zip(enc.adults, adult_ids, strict=True):
            if adult.prosecuted:
                await send("referral.decision_recorded", {
                    "type": "prosecute_adult", "concerns": "adult", "adult_id": str(adult_id),
                    "decided_at": decided_at.isoformat()}, f"adult-decision-{adult_id}")
