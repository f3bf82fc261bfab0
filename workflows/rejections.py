"""A domain rejection as a Temporal failure, and back (for clients of the workflow)."""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError

from domain import Rejection, RejectionCode

REJECTION_ERROR_TYPE = "Rejection"


def rejection_error(rejection: Rejection) -> ApplicationError:
    """The reason is plain words and holds no health data, so it may travel as a failure."""
    return ApplicationError(
        rejection.reason,
        rejection.code.value,
        type=REJECTION_ERROR_TYPE,
        non_retryable=True,
    )


def rejection_from_error(error: BaseException | None) -> Rejection | None:
    """The domain's rejection inside an update's failure, if that is what it was."""
    while error is not None:
        if isinstance(error, ApplicationError) and error.type == REJECTION_ERROR_TYPE:
            details: tuple[Any, ...] = tuple(error.details)
            code = RejectionCode(details[0]) if details else RejectionCode.NOT_ALLOWED_NOW
            return Rejection(code=code, reason=error.message)
        error = error.__cause__
    return None
