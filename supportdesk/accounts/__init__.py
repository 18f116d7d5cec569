"""Organisations (municipalities, institutions, vendors, systems), users and entitlements."""
