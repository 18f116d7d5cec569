"""A superuser logs tickets for their own institution only.

Before: the README said superusers "log tickets for their institution", but the form
offered every institution of the municipality and the API and service took any of them.
The form's choices, the API and the service now follow `policy.ticket_institutions`.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from supportdesk import policy
from supportdesk.accounts.models import Role
from supportdesk.errors import ValidationFailed
from supportdesk.tickets import services
from supportdesk.tickets.models import Ticket


def _new(system, institution):
    return services.NewTicket(
        system=system,
        category=system.categories[0],
        subject="Forældre kan ikke logge ind",
        description="Siden svarer ikke.",
        institution=institution,
    )


def test_the_service_refuses_another_institution_for_a_superuser(
    db, make_user, make_institution, system
):
    superuser = make_user(Role.superuser, municipality="esbjerg")
    neighbour = make_institution(superuser.municipality)
    with pytest.raises(ValidationFailed) as refused:
        services.create_ticket(superuser, _new(system, neighbour))
    db.session.rollback()
    assert refused.value.fields["institution"] == (
        "Du kan kun oprette henvendelser for din egen institution."
    )
    own = services.create_ticket(superuser, _new(system, superuser.institution))
    assert own.institution_id == superuser.institution_id
    # staff who take calls from every institution still choose any of them
    hotline = make_user(Role.hotline, municipality=superuser.municipality)
    assert services.create_ticket(hotline, _new(system, neighbour)).institution_id == neighbour.id
    db.session.commit()


def test_the_form_offers_and_the_api_takes_only_the_own_institution(
    client, db, login, make_user, make_institution, system, token_for
):
    superuser = make_user(Role.superuser, municipality="esbjerg")
    neighbour = make_institution(superuser.municipality)
    assert [i.id for i in db.session.scalars(policy.ticket_institutions(superuser))] == [
        superuser.institution_id
    ]
    body = {
        "subject": "Forældre kan ikke logge ind",
        "description": "Siden svarer ikke.",
        "system": system.slug,
        "institution": neighbour.number,
    }
    response = client.post("/api/v1/tickets", json=body, headers=token_for(superuser))
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"institution"}
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0
    login(superuser)
    page = client.get("/tickets/new").get_data(as_text=True)
    assert superuser.institution.number in page
    assert neighbour.number not in page
