"""Audit: the security event log and the readable access log of ticket views."""
