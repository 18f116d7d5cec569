"""Passwords: hashing, sign-in checks, strength, and single-use set-password links.

Strength is judged offline by zxcvbn (its lists of common passwords, names and words,
keyboard patterns, dates) plus Danish words people use in passwords and the user's
own name and e-mail address; no network calls. A set-password link (reset or
invitation) is a random token whose SHA-256 is stored: single use, short lived, and
the e-mail carrying it goes through the outbox in the transaction that made it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select, update
from zxcvbn import zxcvbn

from supportdesk import outbox
from supportdesk.accounts.models import LinkPurpose, PasswordLink, User
from supportdesk.audit import events
from supportdesk.audit.models import Outcome, SecurityEvent, SecurityEventKind
from supportdesk.errors import ValidationFailed
from supportdesk.extensions import db, utcnow

_hasher = PasswordHasher()
# Verifying against a real hash for unknown e-mails keeps timing the same.
_DUMMY_HASH = _hasher.hash("timing-equaliser")
MIN_PASSWORD_LENGTH = 10
# zxcvbn's 0-4 scale: 3 is "safely unguessable" (about 10^10 guesses or more).
MIN_SCORE = 3
RESET_LIFETIME = timedelta(minutes=30)
INVITATION_LIFETIME = timedelta(days=7)
# At most this many reset e-mails per account and per address in RESET_WINDOW.
RESET_LIMIT = 3
RESET_WINDOW = timedelta(hours=1)
ACCOUNT_EMAIL = "account_email"
SET_PASSWORD_PATH = "/password/set/"  # noqa: S105 — an address, not a secret

# Danish words and names people build passwords from, which zxcvbn's English lists miss.
DANISH_WORDS = [
    "adgangskode",
    "kodeord",
    "password",
    "hemmelig",
    "hemmeligt",
    "velkommen",
    "velkommen1",
    "sommer",
    "vinter",
    "forår",
    "efterår",
    "sommerferie",
    "ferie",
    "jul",
    "julen",
    "påske",
    "januar",
    "februar",
    "marts",
    "april",
    "maj",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "december",
    "mandag",
    "tirsdag",
    "onsdag",
    "torsdag",
    "fredag",
    "lørdag",
    "søndag",
    "kommune",
    "skole",
    "skolen",
    "børnehave",
    "dagtilbud",
    "aula",
    "unilogin",
    "uni-login",
    "mitid",
    "nemid",
    "supportdesk",
    "support",
    "hotline",
    "danmark",
    "københavn",
    "aarhus",
    "odense",
    "aalborg",
    "esbjerg",
    "vejle",
    "viborg",
    "kærlighed",
    "elsker",
    "fodbold",
    "hund",
    "hunden",
    "kat",
    "katten",
    "mor",
    "far",
    "mormor",
    "farmor",
    "morfar",
    "farfar",
    "familie",
    "bamse",
    "prinsesse",
    "skat",
    "skatter",
    "kode",
    "login",
    "sikker",
    "sikkerhed",
    "kagemand",
    "rødgrød",
    "fløde",
    "hygge",
    "lego",
    "carlsberg",
    "tuborg",
    "brøndby",
]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _personal_words(user: User | None, extra: tuple[str, ...] = ()) -> list[str]:
    words: list[str] = [*extra]
    if user is not None:
        words.extend(re.split(r"[\s.@_\-+]+", f"{user.name} {user.email}".lower()))
        for org in (user.municipality, user.institution, user.vendor):
            if org is not None:
                words.extend(re.split(r"[\s\-]+", org.name.lower()))
    return [w for w in words if len(w) >= 3]


def check_password_strength(
    password: str, user: User | None = None, *, extra_words: tuple[str, ...] = ()
) -> None:
    """Refuse short, common and guessable passwords with a Danish reason (field `password`)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            fields={"password": _l("The password must be at least 10 characters long.")}
        )
    personal = _personal_words(user, extra_words)
    lowered = password.lower()
    if any(len(word) >= 4 and word in lowered for word in personal):
        raise ValidationFailed(
            fields={"password": _l("The password must not contain your name or e-mail address.")}
        )
    result = zxcvbn(password, user_inputs=[*DANISH_WORDS, *personal])
    if result["score"] < MIN_SCORE:
        raise ValidationFailed(
            fields={
                "password": _l(
                    "The password is too easy to guess: it is common or built from a common "
                    "word, name, date or keyboard pattern. Use a longer sentence of unrelated "
                    "words."
                )
            }
        )


def verify_password(user: User | None, password: str) -> bool:
    """Whether `password` is the user's; as slow for an unknown user as for a known one."""
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    if user is None:
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return True


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def authenticate(email: str, password: str) -> User | None:
    """The user for these credentials, or None; never tells which part was wrong."""
    user = find_user(email)
    if not verify_password(user, password) or user is None or not user.active:
        return None
    user.last_login_at = utcnow()
    return user


def set_password(user: User, password: str, *, check: bool = True) -> None:
    """A new password ends every session of the user (the epoch in their cookies changes)."""
    if check:
        check_password_strength(password, user)
    user.password_hash = hash_password(password)
    user.auth_epoch += 1
    user.locked_until = None
    # a link sent before the change must not undo it
    db.session.execute(
        update(PasswordLink)
        .where(PasswordLink.user_id == user.id, PasswordLink.used_at.is_(None))
        .values(used_at=utcnow())
    )


def change_password(user: User, current: str, new: str) -> None:
    """The user's own change on the profile page; the current password is asked first."""
    if not verify_password(user, current):
        events.record(SecurityEventKind.password_changed, Outcome.failure, user=user)
        raise ValidationFailed(fields={"current": _l("The current password is wrong.")})
    try:
        check_password_strength(new, user)
    except ValidationFailed as error:
        raise ValidationFailed(fields={"new": error.fields["password"]}) from None
    set_password(user, new, check=False)
    events.record(SecurityEventKind.password_changed, user=user)


# --- single-use set-password links -----------------------------------------------------


def _link_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _link_row(
    user_id: int,
    purpose: LinkPurpose,
    created_by: User | None,
    lifetime: timedelta | None,
    now: datetime,
) -> tuple[str, dict[str, Any]]:
    """A new link token and its row (only the token's hash is stored)."""
    if lifetime is None:
        lifetime = RESET_LIFETIME if purpose == LinkPurpose.reset else INVITATION_LIFETIME
    token = secrets.token_urlsafe(32)
    row = {
        "user_id": user_id,
        "purpose": purpose,
        "token_hash": _link_hash(token),
        "created_at": now,
        "expires_at": now + lifetime,
        "created_by_id": created_by.id if created_by is not None else None,
    }
    return token, row


def issue_link(
    user: User,
    purpose: LinkPurpose,
    *,
    created_by: User | None = None,
    lifetime: timedelta | None = None,
    now: datetime | None = None,
) -> str:
    """A new single-use link token for `user`; the caller sends it (see `send_link`) and
    commits."""
    token, row = _link_row(user.id, purpose, created_by, lifetime, now or utcnow())
    db.session.add(PasswordLink(**row))
    return token


def link_path(token: str) -> str:
    return SET_PASSWORD_PATH + token


def _link_email(user_id: int, purpose: LinkPurpose, token: str, inviter: str) -> dict[str, Any]:
    """The outbox payload of the e-mail that carries a link."""
    minutes = int(RESET_LIFETIME.total_seconds() // 60)
    return {
        "user_id": user_id,
        "template": "invitation" if purpose == LinkPurpose.invitation else "password_reset",
        "context": {
            "path": link_path(token),
            "minutes": minutes,
            "days": INVITATION_LIFETIME.days,
            "inviter": inviter,
        },
    }


def send_link(user: User, purpose: LinkPurpose, token: str, *, inviter: str = "") -> None:
    """The e-mail with the link, through the outbox in this transaction."""
    outbox.enqueue(ACCOUNT_EMAIL, _link_email(user.id, purpose, token, inviter))


def valid_link(token: str, now: datetime | None = None) -> PasswordLink | None:
    """The unused, unexpired link for this token, or None (same answer for any failure)."""
    if not token or len(token) > 100:
        return None
    now = now or utcnow()
    link = db.session.scalar(
        select(PasswordLink).where(PasswordLink.token_hash == _link_hash(token))
    )
    if link is None or link.used_at is not None or link.expires_at <= now:
        return None
    if not link.user.active and link.purpose == LinkPurpose.reset:
        return None
    return link


def use_link(link: PasswordLink, password: str, now: datetime | None = None) -> User:
    """Set the password through a link: the link and every other one of the user is used
    up, every session ends, a lockout is lifted."""
    user = link.user
    check_password_strength(password, user)
    set_password(user, password, check=False)
    link.used_at = now or utcnow()
    if link.purpose == LinkPurpose.invitation:
        user.active = True
    events.record(SecurityEventKind.password_reset, user=user, detail={"via": link.purpose.value})
    return user


def _recent_resets(now: datetime, *, user: User | None = None, ip: str | None = None) -> int:
    query = select(SecurityEvent.id).where(
        SecurityEvent.kind == SecurityEventKind.password_reset_requested,
        SecurityEvent.at >= now - RESET_WINDOW,
    )
    if user is not None:
        query = query.where(SecurityEvent.user_id == user.id)
    else:
        query = query.where(SecurityEvent.ip == ip)
    return len(list(db.session.scalars(query.limit(RESET_LIMIT * 5))))


def request_reset(email: str, now: datetime | None = None) -> None:
    """'Glemt adgangskode?': e-mail a link when the address belongs to an active user.

    The caller answers the same whatever happens here, so the form tells nobody which
    addresses exist; a burst from one address or for one account sends nothing more.
    """
    now = now or utcnow()
    email = email.strip().lower()[:254]
    user = find_user(email)
    ip = events.client_address()
    limited = _recent_resets(now, ip=ip) >= RESET_LIMIT * 5 or (
        user is not None and _recent_resets(now, user=user) >= RESET_LIMIT
    )
    outcome = Outcome.denied if limited or user is None or not user.active else Outcome.success
    events.record(
        SecurityEventKind.password_reset_requested, outcome, user=user, email=email, at=now
    )
    if outcome == Outcome.success and user is not None:
        send_link(user, LinkPurpose.reset, issue_link(user, LinkPurpose.reset, now=now))


def invite(actor: User | None, user: User, now: datetime | None = None) -> None:
    """Send a new user (or one who never set a password) a link to choose their own."""
    token = issue_link(user, LinkPurpose.invitation, created_by=actor, now=now)
    send_link(user, LinkPurpose.invitation, token, inviter=actor.name if actor else "")
    events.record(SecurityEventKind.invitation_sent, user=user, actor=actor)


def invite_many(actor: User | None, users: list[Any], now: datetime | None = None) -> int:
    """`invite` for many new users at once (bulk onboarding): the same links, e-mails and
    log lines, written in three bulk statements. `users` need `id`, `email` and
    `municipality_id` (rows of a query will do)."""
    now = now or utcnow()
    inviter = actor.name if actor else ""
    links, emails = [], []
    for user in users:
        token, row = _link_row(user.id, LinkPurpose.invitation, actor, None, now)
        links.append(row)
        emails.append(_link_email(user.id, LinkPurpose.invitation, token, inviter))
    if links:
        db.session.execute(insert(PasswordLink), links)
        outbox.enqueue_many(ACCOUNT_EMAIL, emails)
        events.record_many(SecurityEventKind.invitation_sent, users, actor=actor, at=now)
    return len(links)
