"""Every activity retry policy, in one place: how long a failure is retried and which errors
are final (named by their class, as activities raise them)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# The event store: a refusal is final and the workflow goes back to what is stored (`_resync`).
APPEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=[
        "InvalidEventError",
        "PayloadTooLargeError",
        "ConcurrencyError",
        "DuplicateEventError",
    ],
)
READ_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)

# The prescriber partner: a rejected referral is an answer, not a failure.
REFERRAL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=30),
    non_retryable_error_types=["ReferralRejected"],
)

# Messages: a refused message is not retried, nor a clinician's notice that no channel could
# deliver (`Undelivered`: it is in their alert list; the workflow escalates it to ops).
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=["Undelivered", "InvalidMessage"],
)

# Follow-up automation.
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
# A sweep that cannot finish fails; tomorrow's run does it again.
SWEEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
)
DIGEST_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=10,
    non_retryable_error_types=["InvalidTimeZone"],
)
