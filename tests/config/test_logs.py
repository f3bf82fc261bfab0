"""Log lines never carry PHI; Temporal's context becomes plain id fields."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from config.logs import configure_logging, drop_phi, flatten_temporal, mask_text
from config.settings import Settings


def test_phi_fields_are_dropped_and_contact_details_masked() -> None:
    event = {
        "event": "sent to jane.doe@example.org at +1 (555) 010-2233",
        "display_name": "Jane Doe",
        "answers": [3, 3, 3],
        "note_text": "felt unsafe",
        "workflow_id": "journey-cl-1",
    }
    out = drop_phi(None, "info", dict(event))
    assert out == {"event": "sent to [redacted] at [redacted]", "workflow_id": "journey-cl-1"}


def test_opaque_ids_and_times_are_not_masked() -> None:
    text = "journey-cl-0a1b2c at 2026-01-05T09:00:00+00:00 version 12 on 2026-01-05, id 4242"
    assert mask_text(text) == text


def test_temporal_context_is_flattened() -> None:
    event = {
        "event": "x",
        "temporal_activity": {
            "workflow_id": "journey-1",
            "run_id": "r",
            "activity_type": "a",
            "attempt": 2,
            "namespace": "default",
        },
    }
    assert flatten_temporal(None, "info", event) == {
        "event": "x",
        "workflow_id": "journey-1",
        "run_id": "r",
        "activity": "a",
        "attempt": 2,
    }


def test_production_logs_are_json_without_phi(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(env="production"), "test")
    try:
        structlog.get_logger("t").info("notice sent", email="a@b.org", journey="journey-cl-1")
        logging.getLogger("stdlib").warning("call +44 20 7946 0958 now", extra={"phone": "1"})
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    assert lines[0]["event"] == "notice sent" and "email" not in lines[0]
    assert lines[0]["journey"] == "journey-cl-1" and lines[0]["process"] == "test"
    assert lines[1]["event"] == "call [redacted] now" and "phone" not in lines[1]
