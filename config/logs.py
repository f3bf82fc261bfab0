"""Logging for every Carepath process: structlog, JSON in production and console in dev.

Temporal's workflow and activity loggers (stdlib) go through the same processors, with their
context flattened to `workflow_id`, `run_id` and `activity`. `drop_phi` removes fields that may
hold personal health information and masks contact details in any remaining text.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, Processor

from config.settings import Settings

# Keys whose values are PHI or may be: names, contact details, notes, answers, scores, free text.
PHI_KEYS = frozenset(
    {
        "name", "display_name", "first_name", "last_name", "full_name", "email", "phone",
        "address", "dob", "date_of_birth", "note", "notes", "note_text", "text", "body",
        "subject", "answers", "score", "scores", "total", "band", "treatment_goals", "goals",
        "vitals", "adverse_events", "diagnosis", "message", "free_text", "chaperone_name",
        "chaperone_phone", "to",
    }
)  # fmt: skip
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# A phone number: 9+ digits with separators, not inside an id or a timestamp.
_PHONE = re.compile(r"(?<![\w:.-])\+?\(?\d[\d ().-]{7,}\d(?![\w:])")
REDACTED = "[redacted]"


def _mask_phone(match: re.Match[str]) -> str:
    digits = sum(c.isdigit() for c in match.group(0))
    return REDACTED if digits >= 9 else match.group(0)


def mask_text(text: str) -> str:
    return _PHONE.sub(_mask_phone, _EMAIL.sub(REDACTED, text))


def drop_phi(_: Any, __: str, event_dict: EventDict) -> EventDict:
    """Drop PHI fields and mask contact details in what is left (the event text included)."""
    for key in list(event_dict):
        if key.lower() in PHI_KEYS:
            del event_dict[key]
        elif isinstance(event_dict[key], str):
            event_dict[key] = mask_text(event_dict[key])
    return event_dict


def flatten_temporal(_: Any, __: str, event_dict: EventDict) -> EventDict:
    """Bring Temporal's logging context up to top-level, id fields only."""
    workflow = event_dict.pop("temporal_workflow", None)
    activity = event_dict.pop("temporal_activity", None)
    for context in (workflow, activity):
        if isinstance(context, dict):
            for key in ("workflow_id", "run_id", "workflow_type", "task_queue"):
                if key in context:
                    event_dict.setdefault(key, context[key])
    if isinstance(activity, dict):
        event_dict["activity"] = activity.get("activity_type")
        event_dict["attempt"] = activity.get("attempt")
    return event_dict


def processors(settings: Settings) -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        flatten_temporal,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        drop_phi,
    ]


def configure_logging(settings: Settings, process: str) -> None:
    """Configure structlog and stdlib logging once for this process."""
    shared = processors(settings)
    renderer: Processor
    if settings.effective_log_format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            drop_phi,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    structlog.contextvars.bind_contextvars(process=process)
    _quiet_temporal_messages()


def _quiet_temporal_messages() -> None:
    """Temporal appends its context to the message text too; keep it in fields only."""
    from temporalio import activity, workflow

    activity.logger.activity_info_on_message = False
    workflow.logger.workflow_info_on_message = False


def get_logger(name: str | None = None, **bound: Any) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name).bind(**bound)
    return logger


__all__ = ["PHI_KEYS", "configure_logging", "drop_phi", "get_logger", "mask_text"]
