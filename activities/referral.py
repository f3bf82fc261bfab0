"""The referral to the prescriber partner (Journey Clinical): an outbound HTTP call.

Only opaque ids travel; the partner dedups on `referral_id` (also sent as Idempotency-Key).
A refused referral is a non-retryable failure; outages and timeouts retry with backoff.
"""

from __future__ import annotations

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.messages import ReferralOutcome, ReferralRequest

REFERRAL_REJECTED = "ReferralRejected"


def _reference(response: httpx.Response) -> str | None:
    """The partner's reference from an accepting answer, if it gave one we can read.

    The referral is accepted whatever the body: failing here would retry (and re-send) an
    accepted referral until the retries ran out and it was recorded as unreachable.
    """
    if not response.headers.get("content-type", "").startswith("application/json"):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    reference = body.get("reference") if isinstance(body, dict) else None
    if isinstance(reference, bool) or not isinstance(reference, str | int):
        return None
    return str(reference)


class ReferralActivities:
    def __init__(self, url: str | None, token: str | None = None, timeout: float = 15.0) -> None:
        self._url, self._token, self._timeout = url, token, timeout

    @activity.defn(name="send_referral")
    async def send_referral(self, request: ReferralRequest) -> ReferralOutcome:
        if self._url is None:  # no partner configured (dev): the referral event is the record
            activity.logger.info("referral recorded; no partner endpoint configured")
            return ReferralOutcome(accepted=True)
        headers = {"Idempotency-Key": request.referral_id}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        payload = request.model_dump(mode="json", exclude={"actor"})
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(self._url, json=payload, headers=headers)
        except httpx.HTTPError as error:
            raise ApplicationError(
                f"referral partner unavailable: {type(error).__name__}", type="PartnerUnavailable"
            ) from None
        status = response.status_code
        if 200 <= status < 300 or status == 409:  # 409: the partner already has it
            return ReferralOutcome(accepted=True, partner_reference=_reference(response))
        if not 400 <= status < 500 or status in (408, 429):
            # 5xx, 408, 429, and 3xx (a moved endpoint is an outage to fix, not a refusal of
            # this client's referral): retry with backoff.
            raise ApplicationError(f"referral partner answered {status}", type="PartnerUnavailable")
        raise ApplicationError(
            f"the partner refused the referral ({status})",
            type=REFERRAL_REJECTED,
            non_retryable=True,
        )
