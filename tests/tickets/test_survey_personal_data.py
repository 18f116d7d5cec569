"""A person's survey answers and followed tickets are in their data export, and erasing
them empties what they wrote (DESIGN's personal-data tools)."""

from __future__ import annotations

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.gdpr import services as gdpr
from supportdesk.tickets import lifecycle, merging, surveys
from supportdesk.tickets.models import SurveyResponse, TicketStatus


def test_export_and_erase_cover_survey_answers_and_follows(make_user, make_ticket):
    coordinator = make_user(Role.coordinator, municipality="esbjerg")
    reporter = make_user(Role.superuser, municipality=coordinator.municipality)
    other = make_user(Role.superuser, municipality=coordinator.municipality)
    ticket = make_ticket(reporter, institution=reporter.institution)
    target = make_ticket(other, institution=other.institution)
    duplicate = make_ticket(reporter, institution=reporter.institution)
    merging.merge(coordinator, duplicate, target)
    lifecycle.change_status(coordinator, ticket, TicketStatus.resolved)
    surveys.answer(reporter, ticket, 3, "Min søn Emil fik ikke hjælp")
    db.session.commit()

    subject = gdpr.find_subject(reporter.email, coordinator.municipality_id)
    data = gdpr.export(None, subject)["user"]
    assert data["survey_answers"][0]["comment"] == "Min søn Emil fik ikke hjælp"
    assert data["survey_answers"][0]["ticket"] == ticket.number
    assert data["tickets_followed"] == [target.number]

    gdpr.erase(None, subject)
    db.session.commit()
    answer = db.session.query(SurveyResponse).one()
    assert (answer.score, answer.comment) == (3, "")
