"""Ticket attachments: checking uploads by content, storing them, who sees which.

Files live outside static/ under generated names, written under a temporary name and
moved into place when the row is committed (upload_store.py); a download goes through
policy (views: tickets.attachment).
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import filetype
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from supportdesk import policy
from supportdesk.accounts.models import User
from supportdesk.errors import ValidationFailed
from supportdesk.extensions import db
from supportdesk.tickets import upload_store
from supportdesk.tickets.models import Attachment, EntryKind, Ticket, TicketEntry


@dataclass
class Upload:
    """A file as received, independent of Werkzeug so the API and CLI can use it."""

    filename: str
    stream: IO[bytes]


# Detected type → allowed extensions; text is recognised separately (no magic bytes).
ALLOWED_TYPES = {
    "application/pdf": {"pdf"},
    "image/png": {"png"},
    "image/jpeg": {"jpg", "jpeg"},
    "image/gif": {"gif"},
    "image/webp": {"webp"},
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {"docx"},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"xlsx"},
}
TEXT_TYPES = {"txt": "text/plain", "csv": "text/csv", "log": "text/plain"}


def safe_filename(name: str) -> str:
    """Display name: no path, no control characters, bounded length."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().strip(".") or "fil"
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:190] + dot + ext[:9]) if dot else name[:200]
    return name


def detect_type(head: bytes, filename: str) -> str | None:
    """Content decides; the extension must agree with it."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime if ext in ALLOWED_TYPES.get(kind.mime, set()) else None
    if ext in TEXT_TYPES and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as error:
            if error.start < len(head) - 4:  # a multi-byte char cut at the end is fine
                return None
        return TEXT_TYPES[ext]
    return None


@dataclass
class CheckedUpload:
    """An upload that passed the size and content checks, held in memory until stored."""

    filename: str
    data: bytes
    content_type: str


def check_upload(upload: Upload | CheckedUpload) -> CheckedUpload:
    """Size and type by content; done for every file before anything is written."""
    if isinstance(upload, CheckedUpload):
        return upload
    filename = safe_filename(upload.filename)
    limit = current_app.config["SUPPORTDESK"].max_upload_mb * 1024 * 1024
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise ValidationFailed(
            _l("The file is too large."),
            fields={"attachments": str(_l("The file %(name)s is too large.", name=filename))},
        )
    if not data:
        raise ValidationFailed(
            fields={"attachments": str(_l("The file %(name)s is empty.", name=filename))}
        )
    content_type = detect_type(data[:8192], filename)
    if content_type is None:
        raise ValidationFailed(
            _l("That file type is not allowed."),
            fields={
                "attachments": str(
                    _l(
                        "%(name)s is not an allowed file type (PDF, images, Word, Excel, text).",
                        name=filename,
                    )
                )
            },
        )
    return CheckedUpload(filename, data, content_type)


def add_attachment(
    actor: User, ticket: Ticket, entry: TicketEntry | None, upload: Upload | CheckedUpload
) -> Attachment:
    """Store under a generated name outside static/, after checking size and content;
    the file takes its name when the caller commits (upload_store.stage)."""
    checked = check_upload(upload)
    filename, data, content_type = checked.filename, checked.data, checked.content_type
    storage_name = uuid.uuid4().hex
    upload_store.stage(storage_name, data)
    attachment = Attachment(
        ticket=ticket,
        entry=entry,
        municipality_id=ticket.municipality_id,
        uploaded_by=actor,
        filename=filename,
        storage_name=storage_name,
        content_type=content_type,
        size=len(data),
    )
    db.session.add(attachment)
    return attachment


def attachment_path(attachment: Attachment) -> Path:
    return upload_store.path_of(attachment.storage_name)


def visible_attachments(user: User, ticket: Ticket) -> list[Attachment]:
    query = (
        select(Attachment)
        .outerjoin(TicketEntry, Attachment.entry_id == TicketEntry.id)
        .where(Attachment.ticket_id == ticket.id)
        .order_by(Attachment.id)
    )
    if not policy.can_see_internal_notes(user, ticket):
        query = query.where(
            or_(Attachment.entry_id.is_(None), TicketEntry.kind != EntryKind.internal_note)
        )
    return list(db.session.scalars(query))
