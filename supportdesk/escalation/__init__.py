"""Escalation to vendor servicedesks: vendor cases, SLA in business hours, known issues."""
