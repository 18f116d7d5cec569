"""Notifications: in-app bell, per-event e-mail preferences and e-mail delivery via the outbox."""
