"""Message texts. Clients get the minimum: a first name, a time, a callback; never the drug, a
diagnosis, a score or safety status. Staff get a template name and a link, never PHI."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from domain.notifications import CLIENT_TEMPLATES, Notice, Template

_CLIENT_TEXT: dict[Template, str] = {
    Template.APPOINTMENT_REMINDER: "Hello {name}, this is a reminder of your appointment with "
    "{clinic} on {when}. To change it, call {callback}.",
    Template.SESSION_CONFIRMATION_REQUEST: "Hello {name}, please confirm with {clinic} your ride "
    "home (and your support person, if you meet from home) for {when}. Call {callback}.",
    Template.INTEGRATION_REMINDER: "Hello {name}, it is time to book your next session with "
    "{clinic}. Call {callback}.",
    Template.SURVEY_INVITATION: "Hello {name}, {clinic} would like to hear how you are doing. "
    "Please answer a short check-in before {when}. Questions? Call {callback}.",
    Template.SURVEY_REMINDER: "Hello {name}, your short check-in with {clinic} is still open "
    "until {when}. Questions? Call {callback}.",
}


SURVEY_TEMPLATES = frozenset({Template.SURVEY_INVITATION, Template.SURVEY_REMINDER})


def _when(at: datetime | None, zone: tzinfo) -> str:
    """The time in the clinic's time zone, as clients read it."""
    return (
        at.astimezone(zone).strftime("%A %d %B at %H:%M %Z").strip()
        if at
        else "your scheduled time"
    )


def render(
    notice: Notice,
    *,
    first_name: str | None,
    journey_id: str,
    clinic: str,
    callback: str,
    ui_base_url: str,
    survey_link: str | None = None,
    time_zone: tzinfo = UTC,
) -> tuple[str, str]:
    """(subject, body) for a notice; a survey notice carries its link when there is one."""
    if notice.template in CLIENT_TEMPLATES:
        body = _CLIENT_TEXT[notice.template].format(
            name=first_name or "there",
            clinic=clinic,
            when=_when(notice.at, time_zone),
            callback=callback,
        )
        if survey_link and notice.template in SURVEY_TEMPLATES:
            body += f" Answer here: {survey_link}"
        return f"A message from {clinic}", body
    title = notice.template.value.replace("_", " ")
    prefix = "URGENT: " if notice.urgent else ""
    link = f"{ui_base_url}/namespaces/default/workflows/{journey_id}"
    return f"{prefix}Carepath: {title}", f"{prefix}{title} for journey {journey_id}.\n{link}\n"
