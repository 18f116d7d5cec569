"""`retention run` anonymises closed tickets past the municipality's period, and only those."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from supportdesk.accounts.models import Role
from supportdesk.extensions import utcnow
from supportdesk.notifications.models import Notification
from supportdesk.retention.services import ANONYMISED_SUBJECT, run_retention
from supportdesk.tickets import merging
from supportdesk.tickets import services as tickets
from supportdesk.tickets.attachments import Upload
from supportdesk.tickets.models import (
    Attachment,
    EntryKind,
    Ticket,
    TicketEntry,
    TicketSource,
    TicketStatus,
)
from tests.factories import file_ticket

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)


def _closed_ticket(db, hotline, system, closed_days_ago: int, subject: str) -> Ticket:
    ticket = file_ticket(
        hotline,
        system,
        subject=subject,
        description="Mor ringede: Emma (0101151234) kan ikke logge ind.",
        institution=None,
        source=TicketSource.hotline,
        requester_name="Karen Forælder",
        requester_phone="20 30 40 50",
        uploads=(Upload("skaermbillede.png", io.BytesIO(PNG)),),
    )
    tickets.add_entry(hotline, ticket, "Vi har nulstillet koden for Emma.")
    ticket.status = TicketStatus.closed
    ticket.closed_at = utcnow() - timedelta(days=closed_days_ago)
    db.session.add(
        Notification(
            user_id=hotline.id,
            event="ticket_reply",
            context={"subject": subject},
            url=f"/tickets/{ticket.number}",
        )
    )
    db.session.commit()
    return ticket


def test_only_expired_closed_tickets_are_anonymised(app, db, make_user, make_system):
    system = make_system("aula")
    hotline = make_user(Role.hotline, municipality="esbjerg")
    hotline.municipality.retention_days = 365
    old = _closed_ticket(db, hotline, system, 400, "Gammel sag om Emma")
    recent = _closed_ticket(db, hotline, system, 30, "Ny sag om Oliver")
    stored = [Path(app.config["SUPPORTDESK"].upload_dir) / a.storage_name for a in old.attachments]
    assert all(path.exists() for path in stored)

    report = run_retention()
    db.session.commit()

    assert report.tickets == 1
    assert report.attachments == 1
    db.session.expire_all()
    old = db.session.get(Ticket, old.id)
    assert old.subject == ANONYMISED_SUBJECT
    assert old.description == ""
    assert (old.requester_name, old.requester_phone, old.requester_email) == (None, None, None)
    assert old.anonymised_at is not None
    assert all(
        e.body == "" for e in old.entries if e.kind in (EntryKind.reply, EntryKind.internal_note)
    )
    assert db.session.query(Attachment).filter_by(ticket_id=old.id).count() == 0
    assert not any(path.exists() for path in stored)
    assert db.session.query(Notification).filter_by(url=f"/tickets/{old.number}").count() == 0
    # The skeleton stays for reports.
    assert (old.number, old.status, old.system_id) == (old.number, TicketStatus.closed, system.id)

    recent = db.session.get(Ticket, recent.id)
    assert recent.subject == "Ny sag om Oliver"
    assert recent.requester_phone == "20 30 40 50"
    assert recent.anonymised_at is None

    # Running again finds nothing new.
    assert run_retention().tickets == 0


def test_cli_reports_counts(app, db, make_user, make_system):
    system = make_system("aula")
    hotline = make_user(Role.hotline, municipality="aalborg")
    hotline.municipality.retention_days = 30
    _closed_ticket(db, hotline, system, 31, "Udløbet")
    result = app.test_cli_runner().invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert "Anonymised 1 ticket(s)" in result.output
    assert db.session.query(Ticket).filter_by(subject=ANONYMISED_SUBJECT).count() == 1


def test_survey_comment_and_its_bell_entry_go_with_the_ticket(app, db, make_user, make_system):
    from supportdesk.tickets import lifecycle, surveys
    from supportdesk.tickets.models import SurveyResponse

    system = make_system("aula")
    reporter = make_user(Role.superuser, municipality="esbjerg")
    reporter.municipality.retention_days = 365
    coordinator = make_user(Role.coordinator, municipality=reporter.municipality)
    ticket = file_ticket(reporter, system, subject="Emma kan ikke logge ind")
    lifecycle.change_status(coordinator, ticket, TicketStatus.resolved)
    surveys.answer(reporter, ticket, 2, "Emmas mor var utilfreds")
    lifecycle.change_status(coordinator, ticket, TicketStatus.closed)
    ticket.closed_at = utcnow() - timedelta(days=400)
    db.session.commit()
    link = f"/survey/{surveys.survey_token(ticket)}"
    assert db.session.query(Notification).filter_by(url=link).count() == 1

    assert run_retention().tickets == 1
    db.session.commit()
    db.session.expire_all()
    answer = db.session.query(SurveyResponse).one()
    assert (answer.score, answer.comment) == (2, "")  # the score stays for the reports
    assert db.session.query(Notification).filter_by(url=link).count() == 0


def test_attachment_files_stay_until_the_anonymisation_commits(app, db, make_user, make_system):
    """A retention run that rolls back (a failing statement, a killed job) keeps the
    files its rows still point to; only the committed run removes them."""
    system = make_system("aula")
    hotline = make_user(Role.hotline, municipality="esbjerg")
    hotline.municipality.retention_days = 365
    old = _closed_ticket(db, hotline, system, 400, "Gammel sag om Emma")
    stored = [Path(app.config["SUPPORTDESK"].upload_dir) / a.storage_name for a in old.attachments]

    assert run_retention().attachments == 1
    db.session.rollback()

    assert all(path.exists() for path in stored)
    assert db.session.query(Attachment).filter_by(ticket_id=old.id).count() == 1

    run_retention()
    db.session.commit()
    assert not any(path.exists() for path in stored)


def test_a_merged_ticket_s_subject_leaves_the_history_of_the_ticket_it_was_merged_into(
    app, db, make_user, make_system
):
    """The target's "merged from" line stores the merged ticket's number and subject; when
    the merged ticket is anonymised, its subject goes from that line too."""
    system = make_system("aula")
    hotline = make_user(Role.hotline, municipality="esbjerg")
    coordinator = make_user(Role.coordinator, municipality=hotline.municipality)
    hotline.municipality.retention_days = 365
    merged = file_ticket(
        hotline, system, subject="Emma Jensen kan ikke logge ind", institution=None
    )
    target = file_ticket(hotline, system, subject="Login fejler", institution=None)
    merging.merge(coordinator, merged, target)
    merged.closed_at = utcnow() - timedelta(days=400)
    db.session.commit()

    assert run_retention().tickets == 1
    db.session.commit()
    db.session.expire_all()

    line = db.session.scalars(
        select(TicketEntry.data).where(
            TicketEntry.ticket_id == target.id, TicketEntry.event == "merged_from"
        )
    ).one()
    assert line == {"ticket": merged.number, "subject": ANONYMISED_SUBJECT}
    assert db.session.get(Ticket, target.id).subject == "Login fejler"
