"""The referral to the prescriber partner, against a real (local) HTTP server as the partner."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.messages import ReferralOutcome, ReferralRequest
from activities.referral import REFERRAL_REJECTED, ReferralActivities
from domain import Actor
from domain.vocabulary import Role
from tests.activities.servers import HttpServer, Reply, closed_port

TOKEN = "partner-token-9"
REQUEST = ReferralRequest(
    referral_id="0b7e1c9a-3d4f-4a51-9a8e-5c2d7f1e6a90",
    client_id="client-7f3a",
    therapist_id="ther-1",
    prescriber_id="presc-1",
    clinic_id="north",
    sent_at=datetime(2031, 3, 4, 9, 30, tzinfo=UTC),
    actor=Actor(id="ther-1", role=Role.THERAPIST),
)


async def refer(url: str | None, *, give_up_after: float = 5) -> ReferralOutcome:
    acts = ReferralActivities(url, TOKEN, timeout=give_up_after)
    return await ActivityEnvironment().run(acts.send_referral, REQUEST)


async def test_an_accepted_referral_carries_the_partner_reference(partner: HttpServer) -> None:
    partner.reply(Reply.json(201, {"reference": "JC-1"}))

    outcome = await refer(partner.url("/referrals"))

    assert outcome == ReferralOutcome(accepted=True, partner_reference="JC-1")


async def test_the_request_carries_the_idempotency_key_the_token_and_opaque_ids_only(
    partner: HttpServer,
) -> None:
    partner.reply(Reply.json(201, {"reference": "JC-1"}))

    await refer(partner.url("/referrals"))

    [posted] = partner.requests
    assert (posted.method, posted.path) == ("POST", "/referrals")
    assert posted.headers["idempotency-key"] == REQUEST.referral_id
    assert posted.headers["authorization"] == f"Bearer {TOKEN}"
    assert posted.headers["content-type"] == "application/json"
    assert posted.json() == {
        "referral_id": REQUEST.referral_id,
        "client_id": "client-7f3a",
        "therapist_id": "ther-1",
        "prescriber_id": "presc-1",
        "clinic_id": "north",
        "sent_at": "2031-03-04T09:30:00Z",
    }


async def test_a_referral_the_partner_already_has_is_accepted(partner: HttpServer) -> None:
    partner.reply(Reply(409))

    assert await refer(partner.url()) == ReferralOutcome(accepted=True)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(200, b"<html>ok</html>", content_type="text/html"), id="not-json"),
        pytest.param(Reply(200, b"{not json"), id="malformed-json"),
        pytest.param(Reply.json(200, ["JC-2"]), id="a-list"),
        pytest.param(Reply.json(202, {"reference": {"id": 2}}), id="reference-not-text"),
        pytest.param(Reply(204), id="no-content"),
    ],
)
async def test_an_accepting_answer_with_an_unreadable_body_is_still_accepted(
    partner: HttpServer, reply: Reply
) -> None:
    """Before, such a body raised in the activity: the accepted referral was re-sent on every
    retry and, after two days, recorded as a failure to reach the partner."""
    partner.reply(reply)

    assert await refer(partner.url()) == ReferralOutcome(accepted=True)


async def test_a_numeric_reference_is_kept_as_text(partner: HttpServer) -> None:
    partner.reply(Reply.json(201, {"reference": 4711}))

    assert (await refer(partner.url())).partner_reference == "4711"


@pytest.mark.parametrize("status", [400, 403, 404, 422])
async def test_a_refused_referral_is_not_retried(partner: HttpServer, status: int) -> None:
    partner.reply(Reply.json(status, {"error": "unknown prescriber"}))

    with pytest.raises(ApplicationError) as raised:
        await refer(partner.url())

    assert raised.value.type == REFERRAL_REJECTED == "ReferralRejected"
    assert raised.value.non_retryable is True


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(503), id="503"),
        pytest.param(Reply(500), id="500"),
        pytest.param(Reply(429), id="429"),
        pytest.param(Reply(408), id="408"),
        # A moved endpoint is an outage to fix, not the partner refusing this client.
        pytest.param(Reply(307, headers={"Location": "http://elsewhere.invalid/"}), id="307"),
    ],
)
async def test_an_unavailable_partner_is_retried(partner: HttpServer, reply: Reply) -> None:
    partner.reply(reply)

    with pytest.raises(ApplicationError) as raised:
        await refer(partner.url())

    assert raised.value.type == "PartnerUnavailable"
    assert raised.value.non_retryable is False


async def test_a_refused_connection_is_retried() -> None:
    with pytest.raises(ApplicationError) as raised:
        await refer(f"http://127.0.0.1:{closed_port()}/referrals")

    assert raised.value.type == "PartnerUnavailable" and not raised.value.non_retryable


async def test_a_partner_that_does_not_answer_in_time_is_retried(partner: HttpServer) -> None:
    partner.reply(Reply(201, hang=True))

    with pytest.raises(ApplicationError) as raised:
        await refer(partner.url(), give_up_after=0.3)

    assert raised.value.type == "PartnerUnavailable" and not raised.value.non_retryable
    assert len(partner.requests) == 1


async def test_a_retry_resends_the_same_referral(partner: HttpServer) -> None:
    partner.reply(Reply(503), Reply.json(201, {"reference": "JC-3"}))

    with pytest.raises(ApplicationError):
        await refer(partner.url())
    outcome = await refer(partner.url())

    assert outcome.partner_reference == "JC-3"
    first, second = partner.requests
    assert first.body == second.body
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]


async def test_no_partner_configured_records_the_referral_as_accepted() -> None:
    assert await refer(None) == ReferralOutcome(accepted=True)
