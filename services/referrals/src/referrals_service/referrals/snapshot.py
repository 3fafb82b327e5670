"""The minimal snapshot of a case a referral carries: what the receiver needs, no names, no narrative."""

from __future__ import annotations

from datetime import date
from typing import Any

from himaya import clock

AGE_BANDS = ((1, "under_1"), (6, "1_5"), (14, "6_13"), (18, "14_17"))


def age_band(age_years: float | None) -> str:
    """The band of an age in years (Marrakech scheme, the finest published one), or `unknown`."""
    if age_years is None or age_years < 0:
        return "unknown"
    for upper, label in AGE_BANDS:
        if age_years < upper:
            return label
    return "18_plus"


def _age_today(child: dict[str, Any], today: date) -> float | None:
    birth = child.get("birth_date")
    if birth:
        try:
            born = date.fromisoformat(str(birth)[:10])
        except ValueError:
            born = None
        if born is not None:
            years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
            return float(years)
    for key in ("age_at_intake_years", "estimated_age_years"):
        value = child.get(key)
        if isinstance(value, int | float):
            return float(value)
    return None


def case_snapshot(case: dict[str, Any], *, today: date | None = None) -> dict[str, Any]:
    """Build the snapshot from the cases service's representation of a case."""
    child = case.get("child") or {}
    intake = case.get("intake") or {}
    band = age_band(_age_today(child, today or clock.now().date()))
    sex = child.get("sex")
    pattern = intake.get("exploitation_pattern")
    parts = [f"{sex or 'child of unknown sex'}, age band {band}"]
    if intake.get("place_type"):
        parts.append(f"found at {intake['place_type']}" + (" at night" if intake.get("night") else ""))
    if pattern:
        parts.append(f"pattern {pattern}")
    if case.get("risk_level"):
        parts.append(f"risk {case['risk_level']}")
    return {
        "case_number": case.get("case_number"),
        "court_code": case.get("court_code"),
        "commune_code": case.get("commune_code"),
        "age_band": band,
        "sex": sex,
        "exploitation_pattern": pattern,
        "summary": "; ".join(parts) + ".",
    }
