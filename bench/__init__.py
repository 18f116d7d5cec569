"""Benchmarks for supportdesk: `make bench` (load) and the search benchmark; see README.md."""
