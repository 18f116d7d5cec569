"""Audit tests reuse the escalation world (a municipality, its staff, a vendor)."""

from tests.escalation.conftest import escalated, make_ticket, world  # noqa: F401
