"""Retention: closed tickets lose their personal content after the municipality's period."""
