"""The CPR warning while a ticket or reply is written: server-rendered, remove or keep."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from supportdesk.accounts.models import Role
from supportdesk.tickets.models import Ticket

SPELLINGS = ["150815-5123", "150815 5123", "15.08.15-5123", "150815 - 5123", "150815/5123"]


@pytest.fixture
def writer(login, make_user, make_system):
    return login(make_user(Role.superuser, municipality="esbjerg"))


@pytest.fixture
def topic(make_system):
    return f"c{make_system('aula').categories[0].id}"


def _new(client, topic, description, **extra):
    return client.post(
        "/tickets/new",
        data={"topic": topic, "subject": "Login", "description": description, **extra},
    )


def _warning_shown(page: str) -> bool:
    box = re.search(r"<div[^>]*data-cpr-warning[^>]*>", page)
    return box is not None and " hidden" not in box.group(0)


@pytest.mark.parametrize("cpr", SPELLINGS)
def test_a_cpr_number_brings_the_form_back_with_a_danish_warning(client, db, writer, topic, cpr):
    assert not _warning_shown(client.get("/tickets/new").get_data(as_text=True))
    answer = _new(client, topic, f"Eleven {cpr} kan ikke logge ind")
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert _warning_shown(page)
    assert "ligner et CPR-nummer" in page
    assert 'name="cpr_choice" value="remove"' in page
    assert db.session.scalar(select(Ticket.id)) is None


def test_remove_takes_the_number_out_before_saving(client, db, writer, topic):
    answer = _new(client, topic, "Eleven 150815 5123 kan ikke logge ind", cpr_choice="remove")
    assert answer.status_code == 302
    ticket = db.session.scalar(select(Ticket))
    assert ticket.description == "Eleven  kan ikke logge ind"


def test_keep_saves_the_text_as_written(client, db, writer, topic):
    assert _new(client, topic, "Eleven 150815 5123", cpr_choice="keep").status_code == 302
    assert db.session.scalar(select(Ticket.description)) == "Eleven 150815 5123"


def _csrf(client) -> dict[str, str]:
    """The page's token, as the script sends it (a cookie-signed API write needs it)."""
    page = client.get("/tickets/new").get_data(as_text=True)
    return {"X-CSRFToken": re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)}


def test_the_check_endpoint_uses_the_same_detector(client, writer):
    answer = client.post(
        "/api/v1/sensitive/check",
        json={"texts": ["ingen tal her", "cpr 15.08.15-5123 og 320101-1234"]},
        headers=_csrf(client),
    )
    assert answer.status_code == 200
    assert answer.get_json() == {"results": [{"cpr": []}, {"cpr": ["15.08.15-5123"]}]}


def test_the_check_endpoint_refuses_bad_input(client, writer):
    answer = client.post("/api/v1/sensitive/check", json={"texts": "nope"}, headers=_csrf(client))
    assert answer.status_code == 422
    assert answer.get_json()["error"]["code"] == "validation_error"
