"""Uploads: size, type by content, tenant isolation, safe download; XSS stays inert."""

from __future__ import annotations

import io
from html.parser import HTMLParser

import pytest

from supportdesk.accounts.models import Role
from supportdesk.cache import fragments
from supportdesk.extensions import db
from supportdesk.tickets.models import Attachment

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

XSS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[klik](javascript:alert(1))",
    '<svg onload="alert(1)"><circle/></svg>',
    '<a href="javascript:alert(1)">x</a>',
    '"><iframe src=javascript:alert(1)>',
]


def _reply(client, number, body="Se vedhæftet", files=(), internal=False):
    data = {"body": body, "attachments": [(io.BytesIO(c), n) for n, c in files]}
    if internal:
        data["internal"] = "y"
    return client.post(f"/tickets/{number}/entries", data=data, content_type="multipart/form-data")


@pytest.fixture
def ticket_and_staff(make_ticket, make_user):
    ticket = make_ticket()
    coordinator = make_user(Role.coordinator, municipality=ticket.municipality)
    return ticket, coordinator


def test_allowed_upload_is_served_only_as_a_safe_download(ticket_and_staff, client, login):
    ticket, _coordinator = ticket_and_staff
    login(ticket.created_by)
    name = "skærm billede<svg onload=alert(1)>.png"
    assert _reply(client, ticket.number, files=[(name, PNG)]).status_code == 302
    attachment = db.session.query(Attachment).one()
    assert attachment.content_type == "image/png"
    assert attachment.storage_name != attachment.filename
    assert "/" not in attachment.filename
    response = client.get(f"/tickets/{ticket.number}/attachments/{attachment.id}")
    assert response.status_code == 200
    assert response.data == PNG
    response.close()
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert (
        "filename*=UTF-8''sk%C3%A6rm%20billede%3Csvg%20onload%3Dalert%281%29%3E.png" in disposition
    )
    assert "<" not in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # the view's own policy, not the pages' default beside it
    assert response.headers.getlist("Content-Security-Policy") == ["default-src 'none'; sandbox"]
    page = client.get(f"/tickets/{ticket.number}").data.decode()
    assert "<svg onload" not in page
    assert "&lt;svg onload=alert(1)&gt;" in page


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("rapport.pdf", b"MZ\x90\x00\x03\x00\x00\x00 not a pdf but an exe"),
        ("billede.png", PDF),  # content and extension disagree
        ("side.html", b"<html><script>alert(1)</script></html>"),
        ("tegning.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
        ("noter.txt", b"\x00\x01\x02binary"),
    ],
)
def test_disallowed_type_by_content_is_rejected(ticket_and_staff, client, login, name, content):
    ticket, _coordinator = ticket_and_staff
    login(ticket.created_by)
    response = _reply(client, ticket.number, files=[(name, content)])
    assert response.status_code == 422
    assert db.session.query(Attachment).count() == 0
    assert (
        "Se vedhæftet".encode() not in response.data.split(b'id="timeline"')[1].split(b"</ol>")[0]
    )


def test_text_and_pdf_are_accepted(ticket_and_staff, client, login):
    ticket, _coordinator = ticket_and_staff
    login(ticket.created_by)
    files = [
        ("log.txt", "fejl på side 3 æøå\n".encode()),
        ("data.csv", b"a;b\n1;2\n"),
        ("x.pdf", PDF),
    ]
    assert _reply(client, ticket.number, files=files).status_code == 302
    types = sorted(a.content_type for a in db.session.query(Attachment))
    assert types == ["application/pdf", "text/csv", "text/plain"]


def test_oversize_upload_is_413_with_a_clear_message(ticket_and_staff, client, login, app):
    ticket, _coordinator = ticket_and_staff
    login(ticket.created_by)
    limit = app.config["MAX_CONTENT_LENGTH"]
    boundary = "graense"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="body"\r\n\r\nStor\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
            f'filename="stor.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
        ).encode()
        + PDF
        + b"0" * limit
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = client.post(
        f"/tickets/{ticket.number}/entries",
        data=body,
        content_type="multipart/form-data; boundary=graense",
    )
    assert response.status_code == 413
    assert b"for stor" in response.data or b"too large" in response.data
    assert db.session.query(Attachment).count() == 0


def test_attachment_of_another_tenant_or_internal_note_is_404(
    ticket_and_staff, client, login, make_user, new_client
):
    ticket, coordinator = ticket_and_staff
    login(coordinator)
    assert (
        _reply(client, ticket.number, files=[("intern.pdf", PDF)], internal=True).status_code == 302
    )
    attachment = db.session.query(Attachment).one()
    url = f"/tickets/{ticket.number}/attachments/{attachment.id}"
    response = client.get(url)
    assert response.status_code == 200
    response.close()
    outsiders = [
        ticket.created_by,  # the superuser: attachment of an internal note
        make_user(Role.coordinator, municipality="aalborg"),
        make_user(Role.vendor_agent),
    ]
    for outsider in outsiders:
        other = new_client()
        login(outsider, on=other)
        assert other.get(url).status_code == 404
    # an id that exists but belongs to another ticket is 404 too
    second = ticket_and_staff[0]
    assert (
        client.get(f"/tickets/{second.number}/attachments/{attachment.id + 1}").status_code == 404
    )


def test_xss_corpus_is_inert_on_pages_and_api(
    make_user, client, login, system, new_client, token_for
):
    creator = make_user(Role.superuser, municipality="esbjerg")
    coordinator = make_user(Role.coordinator, municipality=creator.municipality)
    headers = token_for(creator)
    numbers = []
    for payload in XSS:
        response = new_client().post(
            "/api/v1/tickets",
            json={
                "subject": payload,
                "description": payload,
                "system": system.slug,
                "category": system.categories[0].slug,
            },
            headers=headers,
        )
        assert response.status_code == 201, response.get_json()
        number = response.get_json()["number"]
        numbers.append(number)
        assert (
            new_client()
            .post(f"/api/v1/tickets/{number}/entries", json={"body": payload}, headers=headers)
            .status_code
            == 201
        )
        body = new_client().get(f"/api/v1/tickets/{number}", headers=headers).get_json()
        for html in [body["description_html"]] + [e["body_html"] for e in body["entries"]]:
            _assert_inert(html)
    for user in (creator, coordinator):
        login(user)
        pages = [client.get("/tickets").data.decode()]
        pages += [client.get(f"/tickets/{n}").data.decode() for n in numbers]
        for page in pages:
            _assert_inert(page)


class _Tags(HTMLParser):
    """Collects real elements and attributes (escaped text is not markup)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "script" and not (values.get("src") or "").startswith("/static/"):
            self.problems.append("inline script")
        if tag in {"svg", "iframe", "object", "embed", "math"}:
            self.problems.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}")
            if name in {"href", "src", "action", "formaction"} and (
                value or ""
            ).strip().lower().startswith(("javascript:", "data:text", "vbscript:")):
                self.problems.append(f"{tag} {name}={value}")


def _assert_inert(html: str) -> None:
    parser = _Tags()
    parser.feed(html)
    assert parser.problems == []


def test_one_bad_file_stores_nothing(ticket_and_staff, client, login, app):
    from pathlib import Path

    ticket, _coordinator = ticket_and_staff
    login(ticket.created_by)
    upload_dir = Path(app.config["SUPPORTDESK"].upload_dir)
    before = set(upload_dir.iterdir()) if upload_dir.exists() else set()
    response = _reply(client, ticket.number, files=[("ok.pdf", PDF), ("bad.exe", b"MZ\x90\x00")])
    assert response.status_code == 422
    assert db.session.query(Attachment).count() == 0
    after = set(upload_dir.iterdir()) if upload_dir.exists() else set()
    assert after == before


def test_the_ticket_page_lists_attachments_per_entry_from_one_statement(
    ticket_and_staff, client, login, count_queries
):
    """Each reply's files under it, an internal note's only for staff, read in one
    statement with the ticket's own files (not once more per page for the replies)."""
    ticket, coordinator = ticket_and_staff
    login(ticket.created_by)
    assert _reply(client, ticket.number, "Første", [("foerste.pdf", PDF)]).status_code == 302
    assert _reply(client, ticket.number, "Anden", [("anden.png", PNG)]).status_code == 302
    login(coordinator)
    assert _reply(client, ticket.number, "Note", [("intern.pdf", PDF)], True).status_code == 302
    for viewer, shown in ((coordinator, True), (ticket.created_by, False)):
        login(viewer)
        fragments.clear(client.application)
        with count_queries() as statements:
            page = client.get(f"/tickets/{ticket.number}").get_data(as_text=True)
        entries = page.split('class="entry')
        first = next(e for e in entries if "Første" in e)
        second = next(e for e in entries if "Anden" in e)
        assert "foerste.pdf" in first
        assert "anden.png" not in first
        assert "anden.png" in second
        assert ("intern.pdf" in page) is shown
        assert len([s for s in statements if "FROM attachment" in s]) == 1


def test_the_api_lists_each_entry_s_files_as_its_caller_may_see_them(
    ticket_and_staff, client, login, token_for
):
    """GET /api/v1/tickets/<number>: a reply's files under that reply; an internal note and
    its file only for ticket staff."""
    ticket, coordinator = ticket_and_staff
    login(ticket.created_by)
    assert _reply(client, ticket.number, "Første", [("foerste.pdf", PDF)]).status_code == 302
    login(coordinator)
    assert _reply(client, ticket.number, "Note", [("intern.pdf", PDF)], True).status_code == 302
    api = client.application.test_client()  # the token alone, no signed-in session
    for viewer, staff in ((coordinator, True), (ticket.created_by, False)):
        answer = api.get(f"/api/v1/tickets/{ticket.number}", headers=token_for(viewer))
        assert answer.status_code == 200
        files = {
            e["body"]: [a["filename"] for a in e["attachments"]]
            for e in answer.get_json()["entries"]
            if e["body"]
        }
        assert files["Første"] == ["foerste.pdf"]
        assert ("Note" in files) is staff
        if staff:
            assert files["Note"] == ["intern.pdf"]
