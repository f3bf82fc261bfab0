"""Clients answer their outcome check-ins through the link in the invitation (no account).

`GET /surveys/{link}` says what is still to answer and until when; `POST /surveys/{link}`
records answers (PHQ-9, GAD-7) and answers with what to show next, never a score: if an answer
asks for a safety review, `crisis_resources` is true, and `alert_recorded` says whether the alert
is in the therapist's alert list (recorded before the answer returns). The
link is the credential (`privacy.links`): a wrong or altered one is "not found", like a check-in
that no longer exists; a closed check-in is "gone".
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from temporalio.client import WorkflowHandle, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.context import Api
from api.errors import ApiError
from api.models import ErrorBody
from privacy.links import check_in_of
from workflows.followups import SurveyAnswers, SurveyReceipt, SurveyStatus

router = APIRouter(tags=["surveys"])

Link = Annotated[str, Path(max_length=1000, description="the link's token")]

NOT_FOUND = "no such check-in: the link may be wrong or no longer valid"
CLOSED = "this check-in has closed"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (404, 410, 422, 503)
}


def _check_in(api: Api, link: str) -> WorkflowHandle[Any, Any]:
    check_in = check_in_of(api.keys, link) if api.keys is not None else None
    if check_in is None:
        raise ApiError(404, NOT_FOUND)
    return api.temporal.get_workflow_handle(check_in)


async def _status(handle: WorkflowHandle[Any, Any]) -> SurveyStatus:
    try:
        status: SurveyStatus = await handle.query("survey", result_type=SurveyStatus)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(404, NOT_FOUND) from None
        raise
    except WorkflowQueryFailedError:
        raise ApiError(404, NOT_FOUND) from None
    return status


@router.get("/surveys/{link}", response_model=SurveyStatus, responses=ERRORS)
async def survey(api: Api, link: Link) -> SurveyStatus:
    """What is still to answer in this check-in, and until when."""
    return await _status(_check_in(api, link))


@router.post("/surveys/{link}", response_model=SurveyReceipt, responses=ERRORS)
async def answer(api: Api, link: Link, answers: SurveyAnswers) -> SurveyReceipt:
    """Record answers; the first answers to an instrument count, a repeat changes nothing."""
    handle = _check_in(api, link)
    if not (await _status(handle)).open:
        raise ApiError(410, CLOSED)
    try:
        receipt: SurveyReceipt = await handle.execute_update(
            "answer", answers, result_type=SurveyReceipt
        )
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        if isinstance(cause, ApplicationError) and cause.type == "InvalidAnswers":
            raise ApiError(422, cause.message) from None  # names the item, never a value
        if isinstance(cause, ApplicationError) and cause.type == "CheckInClosed":
            raise ApiError(410, CLOSED) from None
        raise
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:  # it completed meanwhile
            raise ApiError(410, CLOSED) from None
        raise
    return receipt
