"""Signing a test client in without the form: a server-side session, as the form makes one.

Users whose role requires two-factor sign-in get a TOTP key first (as if they had set it
up), so pages behave as for a person who signed in with password and code; pass
`two_factor=False` to meet the forced set-up instead.
"""

from __future__ import annotations

import pyotp

from supportdesk import policy
from supportdesk.accounts import sessions
from supportdesk.accounts.models import User
from supportdesk.extensions import db, utcnow


def give_two_factor(user: User) -> str:
    """Set up TOTP for the user directly; returns the key."""
    secret = pyotp.random_base32(32)
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    user.totp_last_step = None
    db.session.commit()
    return secret


def sign_in_client(client, user: User, *, two_factor: bool = True) -> User:
    if two_factor and policy.two_factor_required(user) and not user.has_two_factor:
        give_two_factor(user)
    record = sessions.start(user, two_factor=user.has_two_factor)
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session[sessions.SESSION_KEY] = record.id
    return user
