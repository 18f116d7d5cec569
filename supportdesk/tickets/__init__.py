"""Tickets (henvendelser): first-level requests, triage, routing and the ticket API."""
