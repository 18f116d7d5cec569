"""Onboarding: bulk import of municipalities and their people, and the rollout waves."""

from __future__ import annotations

from supportdesk.accounts.models import User
from supportdesk.errors import NotFound
from supportdesk.policy.organisations import is_admin


def can_onboard(user: User) -> bool:
    """Only the system administrator imports waves and follows their readiness: an import
    creates municipalities and people in any of them (a municipal admin has their own
    municipality's user pages)."""
    return is_admin(user)


def require_onboard(user: User) -> None:
    """Everyone else gets not found, as on the other system administration pages."""
    if not can_onboard(user):
        raise NotFound()
