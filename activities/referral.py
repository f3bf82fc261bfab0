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
        if response.status_code in (200, 201, 202, 409):  # 409: the partner already has it
            reference = None
            if response.headers.get("content-type", "").startswith("application/json"):
                reference = response.json().get("reference")
            return ReferralOutcome(accepted=True, partner_reference=reference)
        if response.status_code >= 500 or response.status_code == 429:
            raise ApplicationError(
                f"referral partner answered {response.status_code}", type="PartnerUnavailable"
            )
        raise ApplicationError(
            f"the partner refused the referral ({response.status_code})",
            type=REFERRAL_REJECTED,
            non_retryable=True,
        )
