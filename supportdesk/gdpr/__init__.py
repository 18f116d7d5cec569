"""GDPR tooling for one person: export everything stored about them, or erase it."""
