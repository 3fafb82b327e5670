"""The partner guide's examples use the real field names and values of the API."""

import json
import re
from pathlib import Path

from referrals_service.referrals.schemas import DecisionCreate, DecisionRead, ReferralAcknowledge, ReferralRead
from referrals_service.webhooks.schemas import WebhookSubscriptionCreate

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "partner-guide" / "referrals.md"


def request_bodies(text: str) -> list[dict]:
    bodies = []
    for raw in re.findall(r"-d '(\{.*?\})'", text, flags=re.S):
        bodies.append(json.loads(raw.replace("'$ADULT_ID'", "0c4b6a0e-5a57-4a8e-9d8e-6f0b1a7c2d11")))
    return bodies


class TestPartnerGuideExamples:
    def test_request_examples_validate_against_the_request_models(self):
        text = GUIDE.read_text()
        bodies = request_bodies(text)
        decisions = [b for b in bodies if "concerns" in b]
        assert len(decisions) == 2
        for body in decisions:
            DecisionCreate.model_validate(body)
        ReferralAcknowledge.model_validate(next(b for b in bodies if "external_reference" in b))
        WebhookSubscriptionCreate.model_validate(next(b for b in bodies if "events" in b))

    def test_response_examples_use_the_response_fields(self):
        blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", GUIDE.read_text(), flags=re.S)]
        listing = next(b for b in blocks if "items" in b)
        assert set(listing) == {"items", "next_cursor", "poll_cursor"}
        assert set(listing["items"][0]) == set(ReferralRead.model_fields)
        decision = next(b for b in blocks if "concerns" in b)
        assert set(decision) == set(DecisionRead.model_fields)
