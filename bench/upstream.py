"""The bench's baseline service until the real stack has an authenticated GET to measure: a FastAPI app
with the services' own middleware, problem handlers and token verification (`CurrentPrincipal`), answering
GET /v1/cases/{case_id} with a case-sized JSON document and no database. Without the query a real
service runs, it is faster than a real one, so the gateway's share of the cost is larger: a harsher test.

Run: `BENCH_JWKS='{"keys": [...]}' uvicorn bench.upstream:create_app --factory`.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from fastapi import FastAPI

from himaya.auth import CurrentPrincipal, JWKSCache, TokenVerifier
from himaya.errors import install_problem_handlers
from himaya.middleware import Metrics, RequestContextMiddleware


def create_app() -> FastAPI:
    """The baseline app, trusting the key set in BENCH_JWKS."""
    jwks = json.loads(os.environ["BENCH_JWKS"])
    app = FastAPI(title="bench upstream")
    app.state.token_verifier = TokenVerifier(JWKSCache.static(jwks), issuer="himaya-identity", audience="himaya")
    install_problem_handlers(app)

    @app.get("/.well-known/jwks.json")
    async def keys() -> dict[str, Any]:
        """The public keys."""
        return jwks

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        """Ready."""
        return {"status": "ready"}

    @app.get("/v1/cases/{case_id}")
    async def get_case(case_id: uuid.UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        """A case-sized document for the caller."""
        return {
            "id": str(case_id), "case_number": "RBT-2026-000123", "status": "screened", "risk_level": "high",
            "territory_code": "04.421.01", "court_code": "TPI-RABAT", "trafficking_suspected": False,
            "opened_at": "2026-03-01T09:30:00Z", "closed_at": None, "repeat_of_case_id": None,
            "lead_organization_id": str(principal.organization_id), "case_manager_id": None,
            "child": {"id": str(uuid.UUID(int=case_id.int ^ 1)), "first_name": "Amina", "last_name": "B.",
                      "first_name_ar": "أمينة", "sex": "female", "estimated_age_years": 4,
                      "nationality": "MA", "schooling": "never_enrolled"},
            "version": 3,
        }

    app.add_middleware(RequestContextMiddleware, metrics=Metrics("bench-upstream"))
    return app
