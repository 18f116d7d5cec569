"""Satisfaction: "Fik du hjælp?" (1-5 and a comment) after a ticket is resolved.

The reporter is asked in-app and by e-mail when the ticket is resolved; the e-mail's link
carries a signed token for that ticket and its creator, and works once: a ticket has at
most one answer. `results` gives a municipality's answers over a period (for reports).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select

from supportdesk import policy
from supportdesk.accounts.models import User
from supportdesk.errors import Conflict, NotFound, ValidationFailed
from supportdesk.extensions import db, utcnow
from supportdesk.notifications import services as notifications
from supportdesk.notifications.models import NotificationEvent
from supportdesk.tickets.models import SurveyResponse, Ticket, TicketSource, TicketStatus

SCORES = (1, 2, 3, 4, 5)
COMMENT_MAX = 2000
ANSWERABLE = (TicketStatus.resolved, TicketStatus.closed)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="survey")


def survey_token(ticket: Ticket) -> str:
    return token_for(ticket.id, ticket.created_by_id)


def token_for(ticket_id: int, creator_id: int) -> str:
    """The signed token of a ticket's survey link (the same every time: retention finds
    the bell entries that point to it)."""
    return _serializer().dumps({"t": ticket_id, "u": creator_id})


def ticket_for_token(token: str) -> Ticket:
    """The ticket the e-mail link was made for; a forged or altered token is not found."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        raise NotFound() from None
    ticket = db.session.get(Ticket, data.get("t")) if isinstance(data, dict) else None
    if ticket is None or ticket.created_by_id != data.get("u"):
        raise NotFound()
    return ticket


def request_survey(ticket: Ticket, actor: User | None) -> None:
    """On resolution: ask the creator (bell and e-mail) unless they resolved it themselves.

    A hotline call's creator is the operator, not the caller: no survey.
    """
    creator = ticket.created_by
    if ticket.source == TicketSource.hotline or creator is None:
        return
    if actor is not None and actor.id == creator.id:
        return
    notifications.notify(
        [creator],
        NotificationEvent.survey_requested,
        url=f"/survey/{survey_token(ticket)}",
        context={"number": ticket.number, "subject": ticket.subject},
        actor=actor,
    )


def response_of(ticket: Ticket) -> SurveyResponse | None:
    return db.session.scalar(select(SurveyResponse).where(SurveyResponse.ticket_id == ticket.id))


def is_open(user: User, ticket: Ticket) -> bool:
    """Whether to offer the survey on the ticket page."""
    return (
        policy.can_answer_survey(user, ticket)
        and ticket.status in ANSWERABLE
        and ticket.source != TicketSource.hotline
        and response_of(ticket) is None
    )


def answer(user: User | None, ticket: Ticket, score: object, comment: object) -> SurveyResponse:
    """The creator's one answer: not yet resolved 422, already answered 409.

    `user` is None when the signed e-mail link stands in for the creator's sign-in.
    """
    if user is not None and not policy.can_answer_survey(user, ticket):
        raise NotFound()
    errors: dict[str, str] = {}
    if isinstance(score, str) and score.strip().isdigit():
        score = int(score)
    if isinstance(score, bool) or score not in SCORES:
        errors["score"] = str(_l("Choose a score from 1 to 5."))
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        errors["comment"] = str(_l("The comment must be text."))
    elif len(comment) > COMMENT_MAX:
        errors["comment"] = str(_l("The comment may be at most 2000 characters."))
    if ticket.status not in ANSWERABLE:
        raise ValidationFailed(
            _l("You can answer when the ticket is resolved."),
            fields=errors or {"ticket": str(_l("The ticket is not resolved yet."))},
        )
    if response_of(ticket) is not None:
        raise Conflict(_l("The survey is already answered."))
    if errors:
        raise ValidationFailed(fields=errors)
    score = int(score)  # type: ignore[call-overload]  # checked above
    comment = str(comment)
    response = SurveyResponse(
        ticket_id=ticket.id,
        municipality_id=ticket.municipality_id,
        user_id=ticket.created_by_id,
        score=score,
        comment=comment.strip(),
        created_at=utcnow(),
    )
    db.session.add(response)
    db.session.flush()
    return response


@dataclass
class SurveyResults:
    """A municipality's answers in a period: how many, the average and the count per score."""

    count: int = 0
    average: float | None = None
    by_score: dict[int, int] = field(default_factory=lambda: dict.fromkeys(SCORES, 0))


def results(municipality_id: int, start: datetime, end: datetime) -> SurveyResults:
    """Answers given from `start` (inclusive) to `end` (exclusive); for the reports."""
    rows = db.session.execute(
        select(SurveyResponse.score, func.count(SurveyResponse.id))
        .where(
            SurveyResponse.municipality_id == municipality_id,
            SurveyResponse.created_at >= start,
            SurveyResponse.created_at < end,
        )
        .group_by(SurveyResponse.score)
    ).all()
    summary = SurveyResults()
    for score, count in rows:
        summary.by_score[int(score)] = int(count)
    summary.count = sum(summary.by_score.values())
    if summary.count:
        total = sum(score * count for score, count in summary.by_score.items())
        summary.average = round(total / summary.count, 2)
    return summary
