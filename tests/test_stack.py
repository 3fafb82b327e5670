"""The four real processes on a real Postgres, through the gateway: ready, routed, and failing cleanly."""

import pytest

pytestmark = pytest.mark.stack


class TestReadiness:
    def test_every_service_is_ready_through_the_gateway(self, gateway):
        response = gateway.get("/readyz")
        assert response.status_code == 200
        assert response.json()["upstreams"] == {"identity": "ready", "cases": "ready", "referrals": "ready"}

    def test_each_prefix_reaches_its_owner(self, gateway, admin_token):
        auth = {"Authorization": f"Bearer {admin_token}"}
        assert gateway.get("/.well-known/jwks.json").json()["keys"]
        assert gateway.get("/v1/territories", headers=auth, params={"level": "region"}).status_code == 200
        for path in ("/v1/cases/00000000-0000-4000-8000-000000000000",
                     "/v1/referrals/00000000-0000-4000-8000-000000000000"):
            response = gateway.get(path, headers=auth)
            assert response.status_code in (403, 404), path
            assert response.headers["content-type"] == "application/problem+json"

    def test_request_id_is_kept_end_to_end(self, gateway):
        response = gateway.get("/readyz", headers={"X-Request-ID": "stack-test-0001"})
        assert response.headers["x-request-id"] == "stack-test-0001"


class TestServiceDown:
    def test_stopped_service_gives_a_problem_not_a_hang(self, stack, gateway, admin_token):
        stack.stop("referrals")
        try:
            # the client's 15 s timeout turns a hang into a failure
            response = gateway.get("/v1/referrals", headers={"Authorization": f"Bearer {admin_token}"})
            assert response.status_code in (502, 503)
            assert response.headers["content-type"] == "application/problem+json"
            ready = gateway.get("/readyz")
            assert ready.status_code == 503 and ready.json()["upstreams"]["referrals"] == "unreachable"
        finally:
            stack.start("referrals")
            stack.wait_ready(("referrals",))
        assert gateway.get("/readyz").status_code == 200
